"""One point-in-time join of a lake's labelled examples, as its own process (for `make bench
BENCH_ARGS="training ..."`, which measures its peak memory from outside):

    python -m benchmarks.training_join --lake L --start D --end D --method feast|own --out DIR

`feast` is the training-set path (`get_historical_features` on the Spark offline store);
`own` is the project's as-of join over the same Delta versions. The joined rows are written to
Parquet (so every column is computed) and a JSON line reports the seconds, the rows and the
content hash, which must be the same for both methods.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from pipelines.core.settings import disable_telemetry, load_settings


def main(argv: list[str] | None = None) -> int:
    disable_telemetry()
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--start", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--end", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--method", required=True, choices=["feast", "own"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from flows import serving, training
    from pipelines.core import catalog, io
    from pipelines.core.spark import get_spark
    from pipelines.training import sets
    from pipelines.training.point_in_time import as_of_join

    settings = load_settings(lake_root=args.lake)
    spark = get_spark(settings, app_name=f"tastegraph-bench-join-{args.method}")
    spec = sets.spec_of(settings, args.start, args.end)
    versions = training.pinned_versions(settings, spec.feature_service)
    examples = io.read_table(spark, catalog.TRAINING_EXAMPLES, settings, version=versions[catalog.TRAINING_EXAMPLES.name])
    entity = sets.entity_rows(examples, spec).persist()
    entities = entity.count()
    t0 = time.perf_counter()
    if args.method == "feast":
        joined = serving.historical_features(settings, entity, spec.feature_service, versions).frame
    else:
        joined = as_of_join(entity, serving.feature_frames(settings, spec.feature_service, versions))
    columns = sorted(joined.columns)
    joined.select(*columns).write.mode("overwrite").parquet(args.out)
    seconds = time.perf_counter() - t0
    written = spark.read.parquet(args.out)
    print(json.dumps({"method": args.method, "seconds": round(seconds, 2), "examples": entities,
                      "rows": written.count(), "content_hash": sets.content_hash(written)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
