"""The `tastegraph` command: generate logs, run flows, look features up, submit stages."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from pipelines.settings import disable_telemetry

disable_telemetry()

DEMO = {"users": 200, "pins": 2000, "days": 2, "start_date": "2026-01-01", "seed": 7}


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-01-01, got {value!r}") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {number}")
    return number


def _settings(args):
    from pipelines.settings import load_settings

    return load_settings(getattr(args, "config", None), lake_root=getattr(args, "lake", None))


def cmd_generate(args) -> int:
    from pipelines.generate import GenerateConfig, generate, parse_noise

    cfg = GenerateConfig(
        out=Path(args.out), users=args.users, pins=args.pins, days=args.days, start_date=args.start_date,
        seed=args.seed, events_per_day=args.events_per_day, noise=parse_noise(args.noise),
    )
    t0 = time.perf_counter()
    counts = generate(cfg, progress=lambda msg: print(msg, flush=True))
    print(f"wrote {counts} lines to {args.out} in {time.perf_counter() - t0:.1f}s")
    return 0


def print_summary(results) -> None:
    print()
    print(f"{'stage':<16}{'ds':<12}{'rows in':>12}{'rows out':>12}{'seconds':>10}")
    for r in results:
        print(f"{r.stage:<16}{r.ds:<12}{r.rows_in:>12,}{r.rows_out:>12,}{r.seconds:>10.1f}")
    total = sum(r.seconds for r in results)
    print(f"{'total':<16}{'':<12}{'':>12}{'':>12}{total:>10.1f}")


def print_lookup(result: dict) -> None:
    """Print a Feast online response: the user's features once, then one line per pin."""
    user_cols = sorted(k for k in result if k.startswith("user_stats_v1__"))
    pin_cols = sorted(k for k in result if k.startswith("pin_stats_v1__"))
    if not result.get("user_id"):
        print("  (no rows)")
        return
    print(f"  user {result['user_id'][0]}: " + ", ".join(
        f"{k.split('__', 1)[1]}={_fmt(result[k][0])}" for k in user_cols))
    for i, pin in enumerate(result.get("pin_id", [])):
        if pin:
            print(f"  pin {pin}: " + ", ".join(f"{k.split('__', 1)[1]}={_fmt(result[k][i])}" for k in pin_cols))


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _demo_entities(settings, ds: str) -> tuple[str, list[str]]:
    """The most active user and the three most-saved pins of `ds`, read from the feature tables."""
    from pyspark.sql import functions as F

    from pipelines import catalog, io
    from pipelines.spark import get_spark

    spark = get_spark(settings)
    day = F.col("ds") == F.lit(ds).cast("date")
    user = (
        io.read_table(spark, catalog.USER_STATS, settings).where(day)
        .orderBy(F.desc("impressions_7d"), "user_id").first()["user_id"]
    )
    pins = [
        r["pin_id"]
        for r in io.read_table(spark, catalog.PIN_STATS, settings).where(day)
        .orderBy(F.desc("saves_7d"), F.desc("impressions_7d"), "pin_id").limit(3).collect()
    ]
    return user, pins


def cmd_run(args) -> int:
    from flows.daily import backfill
    from flows.serving import lookup
    from pipelines import catalog
    from pipelines.generate import GenerateConfig, dates, generate

    settings = _settings(args)
    if args.demo:
        cfg = GenerateConfig(
            out=settings.raw_dir, users=DEMO["users"], pins=DEMO["pins"], days=DEMO["days"],
            start_date=dt.date.fromisoformat(DEMO["start_date"]), seed=DEMO["seed"],
        )
        print(f"generating {cfg.days} days of demo logs into {cfg.out} ...", flush=True)
        generate(cfg, progress=lambda msg: print("  " + msg, flush=True))
        days = dates(cfg)
        start, end = days[0], days[-1]
    elif args.ds:
        start = end = args.ds.isoformat()
    elif args.start and args.end:
        start, end = args.start.isoformat(), args.end.isoformat()
    else:
        print("tastegraph run: give --demo, --ds DATE, or --start DATE --end DATE", file=sys.stderr)
        return 2

    results = backfill(start, end, lake_root=str(settings.lake_root), config_file=args.config)
    print_summary(results)
    if args.demo:
        user, pins = _demo_entities(settings, end)
        print(f"\nonline lookup through Feast (feature service ranking_v1) for user {user} and pins {', '.join(pins)}:")
        print_lookup(lookup(settings, user, pins))
        print(f"\nlookup again with: tastegraph lookup --lake {settings.lake_root} --user {user} --pins {','.join(pins)}")
    print(f"\ntables are under {settings.lake_root.resolve()}:")
    for table in catalog.ALL_TABLES:
        print(f"  {table.zone + '.' + table.name:<28}{table.path(settings)}")
    print(f"  {'feast online store':<28}{(settings.feast_dir / 'online_store.db').resolve()}")
    print(f"  {'data docs':<28}{(settings.lake_root / '_gx').resolve()}")
    return 0


def cmd_lookup(args) -> int:
    from flows.serving import lookup

    settings = _settings(args)
    registry = settings.feast_dir / "registry.db"
    if not registry.exists():
        print(f"no Feast registry at {registry}: run `tastegraph run` for this lake first", file=sys.stderr)
        return 2
    pins = [p.strip() for p in (args.pins or "").split(",") if p.strip()]
    print_lookup(lookup(settings, args.user, pins))
    return 0


def submit_command(stage: str, ds: str, settings) -> tuple[list[str], dict[str, str]]:
    """The spark-submit command line (and environment) that runs one stage."""
    from pipelines import jobs
    from pipelines.spark import delta_jars

    bin_dir = Path(sys.executable).parent
    env = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "TASTEGRAPH_LAKE_ROOT": str(settings.lake_root)}
    command = [
        str(bin_dir / "spark-submit"),
        "--master", settings.spark_master,
        "--driver-memory", settings.spark_driver_memory,
        "--jars", ",".join(delta_jars(settings)),
        "--conf", f"spark.sql.shuffle.partitions={settings.shuffle_partitions}",
        "--conf", "spark.sql.session.timeZone=UTC",
        jobs.__file__, stage, "--ds", ds,
    ]
    return command, env


def cmd_submit(args) -> int:
    settings = _settings(args)
    command, env = submit_command(args.stage, args.ds.isoformat(), settings)
    print(" ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()), " ".join(shlex.quote(c) for c in command), flush=True)
    return subprocess.call(command, env={**os.environ, **env})


def cmd_stages(args) -> int:
    from pipelines.jobs import STAGES

    for name, fn in STAGES.items():
        print(f"{name:<16}{(sys.modules[fn.__module__].__doc__ or '').strip().splitlines()[0]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tastegraph", description="Taste-graph feature platform.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--lake", help="lake folder (default ./lake, or TASTEGRAPH_LAKE_ROOT)")
        p.add_argument("--config", help="TOML settings file (or TASTEGRAPH_CONFIG)")

    g = sub.add_parser("generate", help="write synthetic raw logs")
    g.add_argument("--out", required=True)
    g.add_argument("--users", type=_positive, default=DEMO["users"])
    g.add_argument("--pins", type=_positive, default=DEMO["pins"])
    g.add_argument("--days", type=_positive, default=DEMO["days"])
    g.add_argument("--start-date", type=_date, default=_date(DEMO["start_date"]))
    g.add_argument("--seed", type=int, default=DEMO["seed"])
    g.add_argument("--events-per-day", type=_positive, default=None, help="default: 30 per user")
    g.add_argument("--noise", help="dirt rates, e.g. malformed=0.002,duplicate=0.003")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("run", help="run the daily flow (demo, one day, or a range)")
    common(r)
    r.add_argument("--demo", action="store_true", help="generate a small dataset and run it end to end")
    r.add_argument("--ds", type=_date)
    r.add_argument("--start", type=_date)
    r.add_argument("--end", type=_date)
    r.set_defaults(func=cmd_run)

    lk = sub.add_parser("lookup", help="read online features through Feast")
    common(lk)
    lk.add_argument("--user", required=True)
    lk.add_argument("--pins", default="", help="comma-separated pin ids")
    lk.set_defaults(func=cmd_lookup)

    sb = sub.add_parser("submit", help="run one Spark stage with spark-submit")
    common(sb)
    from pipelines.jobs import STAGES

    sb.add_argument("stage", choices=list(STAGES))
    sb.add_argument("--ds", type=_date, required=True)
    sb.set_defaults(func=cmd_submit)

    st = sub.add_parser("stages", help="list the Spark stages")
    st.set_defaults(func=cmd_stages)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pipelines.generate import GenerateError
    from pipelines.settings import SettingsError

    try:
        return args.func(args)
    except (SettingsError, GenerateError) as exc:
        print(f"tastegraph: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
