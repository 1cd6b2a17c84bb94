"""Multi-interest users, PinnerSage style (stage user_interests, table
user_interest_embeddings_v1).

For each user, the pins they engaged with in the last `user_interests_lookback_days` (positive
engagement only, hides excluded: `vectors.engagement`), at most their `user_interests_pins_max`
heaviest, are clustered on their fused embeddings with Ward's hierarchical clustering (the
embeddings are normalised, and clusters further apart than `user_interest_distance` stay
apart). Only the graph (or aligned) part of a fused vector, its first `embedding_dim` values,
tells interests apart: with `fused_content_weight` above 0 a raw content part follows it, which
rides along in the medoids, so a user's interests stay what the graph says whatever the weight
(on MovieLens the scores moved little either way: BENCHMARKS.md). A cluster's importance is the
summed decayed weight of its pins; its medoid is the pin with the smallest weighted distance to
the others, and the medoid's embedding represents the cluster. Each user keeps the
`user_interests_max` most important clusters, ranked 1.. by importance. A user with one engaged
pin has one cluster; a user who only hid pins has none.

A user's rows are rewritten, and stamped with the run's day, only when their clusters changed.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.core import catalog, io
from pipelines.core.stages import StageContext, StageOutput
from pipelines.core.transforms import top_n
from pipelines.embeddings import vectors
from pipelines.embeddings.fused import day_start
from pipelines.graph.shared import edges_as_of

CLUSTERS = T.StructType([
    T.StructField("user_id", T.StringType(), False), T.StructField("cluster", T.IntegerType(), False),
    T.StructField("medoid_pin_id", T.StringType(), False), T.StructField("embedding", catalog.VECTOR, False),
    T.StructField("importance", T.DoubleType(), False), T.StructField("pins", T.IntegerType(), False),
])


def cluster_user(pin_ids: list[str], vecs: np.ndarray, weights: np.ndarray, max_clusters: int,
                 distance: float, dims: int | None = None) -> list[tuple[int, str, np.ndarray, float, int]]:
    """One user's clusters: (rank, medoid pin, medoid embedding, importance, pins), most
    important first (ties by medoid pin id). The clusters and medoids are found on the first
    `dims` values of the vectors (all when None); the medoid's whole vector represents its cluster."""
    order = np.argsort(pin_ids, kind="stable")  # the same input in any order gives the same clusters
    pin_ids = [pin_ids[i] for i in order]
    vecs, weights = vecs[order], weights[order]
    shape = vecs[:, :dims]
    unit = shape / np.maximum(np.linalg.norm(shape, axis=1, keepdims=True), 1e-12)
    if len(pin_ids) == 1:
        labels = np.array([1])
    else:
        from scipy.cluster.hierarchy import fcluster, linkage

        labels = fcluster(linkage(unit.astype(np.float64), method="ward"), t=distance, criterion="distance")
    clusters = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        w = weights[members]
        dist = np.linalg.norm(unit[members][:, None, :] - unit[members][None, :, :], axis=2)
        medoid = members[int(np.argmin(dist @ w))]  # argmin takes the first: pins are sorted
        clusters.append((float(w.sum()), pin_ids[medoid], vecs[medoid], len(members)))
    clusters.sort(key=lambda c: (-c[0], c[1]))
    return [(rank, pin, vec, importance, n) for rank, (importance, pin, vec, n)
            in enumerate(clusters[:max_clusters], start=1)]


def _group_starts(users: np.ndarray) -> np.ndarray:
    """The first row of each run of equal users."""
    return np.flatnonzero(np.r_[True, users[1:] != users[:-1]])


def _embedding_matrix(column) -> np.ndarray:
    """An Arrow list<float> column -> an (n, dim) float32 matrix (rows of one length, as the
    fused table's are; otherwise row by row)."""
    vectors = column.combine_chunks()
    lengths = np.diff(np.asarray(vectors.offsets))
    if len(lengths) and (lengths == lengths[0]).all():
        return vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(vectors), lengths[0])
    return np.stack([np.asarray(v, dtype=np.float32) for v in vectors.to_pylist()])


def _clusters_of(max_clusters: int, distance: float, dims: int | None = None):
    """A mapInArrow function over (user_id, pin_id, embedding, weight) batches in which each
    user's rows are contiguous (see `user_interest_clusters`) -> batches of CLUSTERS. A user's
    rows may run on into the next batch, so the last user of a batch waits for it."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(CLUSTERS)

    def clusters(rows: pa.Table) -> pa.RecordBatch:
        users = rows.column("user_id").to_numpy(zero_copy_only=False)
        starts = _group_starts(users)
        pin_ids = rows.column("pin_id").to_pylist()
        vecs = _embedding_matrix(rows.column("embedding"))
        weights = rows.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
        out: tuple[list, ...] = ([], [], [], [], [], [])
        for start, end in zip(starts, [*starts[1:], len(users)]):
            for rank, pin, vec, importance, n in cluster_user(pin_ids[start:end], vecs[start:end], weights[start:end],
                                                              max_clusters, distance, dims):
                for column, value in zip(out, (users[start], rank, pin, vec, importance, n)):
                    column.append(value)
        return pa.RecordBatch.from_arrays([pa.array(values, type=field.type) for values, field in zip(out, schema)],
                                          schema=schema)

    def run(batches):
        carry = None
        for batch in batches:
            if batch.num_rows == 0:
                continue
            rows = pa.Table.from_batches([batch])
            if carry is not None:
                rows = pa.concat_tables([carry, rows])
            last = int(_group_starts(rows.column("user_id").to_numpy(zero_copy_only=False))[-1])
            if last:
                yield clusters(rows.slice(0, last))
            carry = rows.slice(last)
        if carry is not None:
            yield clusters(carry)
    return run


def user_interest_clusters(engaged: DataFrame, pins: DataFrame, max_clusters: int, distance: float,
                           dims: int | None = None) -> DataFrame:
    """engaged(user_id, pin_id, weight), pins(pin_id, embedding) -> one row per (user, cluster),
    clustered on the first `dims` values of each vector (all when None).
    The rows of a user are brought together and clustered in batches (mapInArrow): a grouped
    map (applyInPandas) costs a pandas frame in and one out per user, which was most of the
    stage's time for 50,000 users of about 4 pins each."""
    with_vectors = engaged.join(pins.select("pin_id", "embedding"), on="pin_id", how="inner")
    by_user = with_vectors.repartition("user_id").sortWithinPartitions("user_id")
    return by_user.select("user_id", "pin_id", "embedding", "weight").mapInArrow(
        _clusters_of(max_clusters, distance, dims), CLUSTERS)


def recent_engagement(edges: DataFrame, ds: str, lookback_days: int, pins_max: int) -> DataFrame:
    """(user_id, pin_id, weight): positive engagement seen within the lookback, heaviest pins."""
    since = dt.datetime.combine(dt.date.fromisoformat(ds) - dt.timedelta(days=lookback_days - 1), dt.time())
    recent = vectors.engagement(edges).where(F.col("last_seen") >= F.lit(since))
    return top_n(recent, "user_id", [F.desc("weight"), "pin_id"], pins_max).select("user_id", "pin_id", "weight")


def signature(rows: DataFrame) -> DataFrame:
    """(user_id, _sig): a hash of a user's clusters (what changes them)."""
    one = F.concat_ws(":", F.col("cluster").cast("string"), "medoid_pin_id", F.col("importance").cast("string"),
                      F.col("pins").cast("string"), F.col("model_version"),
                      F.concat_ws(",", F.col("embedding").cast("array<string>")))
    return rows.groupBy("user_id").agg(F.sha2(F.concat_ws("|", F.array_sort(F.collect_list(one))), 256).alias("_sig"))


def run(ctx: StageContext) -> StageOutput:
    s = ctx.settings
    table = catalog.USER_INTEREST_EMBEDDINGS
    fused = ctx.read(catalog.PIN_EMBEDDINGS)
    engaged = recent_engagement(edges_as_of(ctx), ctx.ds, s.user_interests_lookback_days,
                                s.user_interests_pins_max).persist()  # clustered, then counted
    version = fused.select(F.concat_ws("+", F.array_sort(F.collect_set("model_version")))).first()[0] or "none"
    # Interests are told apart by the graph (or aligned) part of the fused vectors: a raw content
    # part beside it (fused_content_weight) rides along in the medoids without splitting them.
    new = user_interest_clusters(engaged, fused, s.user_interests_max, s.user_interest_distance,
                                 s.embedding_dim).withColumn(
        "model_version", F.lit(version)).persist()
    current = ctx.read_or_empty(table)
    changed = changed_users(new, current)
    fresh = new.join(changed, on="user_id", how="left_semi").withColumn("event_timestamp", day_start(ctx.ds)) \
        .withColumn("_gone", F.lit(False))
    gone = current.join(changed, on="user_id", how="left_semi").join(
        fresh.select("user_id", "cluster"), on=["user_id", "cluster"], how="left_anti").withColumn("_gone", F.lit(True))
    diff = fresh.unionByName(gone.select(*fresh.columns))
    written = io.merge(diff, table, s, {c: F.col(f"s.{c}") for c in table.columns}, delete_when="s._gone",
                       insert_when="NOT s._gone", extra_columns=("_gone",))
    users, pairs = new.select("user_id").distinct().count(), engaged.count()
    new.unpersist()
    engaged.unpersist()
    return StageOutput(rows_in=pairs, rows_out=written, details={"users": users})


def changed_users(new: DataFrame, current: DataFrame) -> DataFrame:
    """Users whose clusters differ between the new rows and the table (new, changed or gone)."""
    a = signature(new).withColumnRenamed("_sig", "_new")
    b = signature(current).withColumnRenamed("_sig", "_old")
    return a.join(b, on="user_id", how="full_outer").where(~F.col("_new").eqNullSafe(F.col("_old"))).select("user_id")
