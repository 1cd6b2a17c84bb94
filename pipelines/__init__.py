"""tastegraph pipelines: the Spark jobs, the only code that computes data."""
