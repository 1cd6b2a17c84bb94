"""Real data sets -> the raw log contract (`pipelines.core.contract`), so that the normal ingest
reads them like any upstream team's logs. Pure Python, no Spark: an importer only writes raw
files. `movielens` converts a MovieLens release (100K or CSV format).
"""
