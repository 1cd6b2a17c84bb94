"""Scale runs: generate a day (or more) of logs, run every Spark stage, record seconds and rows.

    make bench BENCH_ARGS="--events-per-day 1000000 --users 50000 --pins 200000 --days 1"

Writes bench-out/<timestamp>.json and prints a table. Never part of `make test`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import shutil
import time
from pathlib import Path

from pipelines.generate import GenerateConfig, dates, generate
from pipelines.jobs import STAGES, run_stage
from pipelines.settings import disable_telemetry, load_settings
from pipelines.spark import get_spark


def main(argv: list[str] | None = None) -> int:
    disable_telemetry()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--pins", type=int, default=50000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--events-per-day", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lake", default="bench-out/lake")
    parser.add_argument("--out", default="bench-out")
    parser.add_argument("--keep", action="store_true", help="keep the lake from a previous bench run")
    args = parser.parse_args(argv)

    lake = Path(args.lake)
    if lake.exists() and not args.keep:
        shutil.rmtree(lake)
    settings = load_settings(lake_root=lake)
    cfg = GenerateConfig(out=settings.raw_dir, users=args.users, pins=args.pins, days=args.days,
                         events_per_day=args.events_per_day, seed=args.seed, start_date=dt.date(2026, 1, 1))
    t0 = time.perf_counter()
    lines = generate(cfg, progress=lambda m: print(m, flush=True))
    gen_seconds = time.perf_counter() - t0

    spark = get_spark(settings, app_name="tastegraph-bench")
    records = []
    for ds in dates(cfg):
        for stage in STAGES:
            result = run_stage(stage, ds, settings, spark)
            records.append({"ds": ds, "stage": stage, "rows_in": result.rows_in, "rows_out": result.rows_out,
                            "seconds": round(result.seconds, 2),
                            "rows_in_per_second": round(result.rows_in / result.seconds) if result.seconds else None})
            print(f"{stage:<16}{ds:<12}{result.rows_in:>12,}{result.rows_out:>12,}{result.seconds:>9.1f}s", flush=True)

    report = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "args": vars(args),
        "generated_lines": lines,
        "generate_seconds": round(gen_seconds, 2),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stages": records,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
