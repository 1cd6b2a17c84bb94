"""The `tastegraph` command: generate or import logs, run flows, look features up, submit stages.

Arguments, settings and the lake folder are checked before anything slow is imported, and a
problem the user can fix is one `tastegraph: ...` line on stderr with a non-zero exit, never
a traceback (`--verbose` keeps the traceback in the log file).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from pipelines.core.contract import ID_PATTERN
from pipelines.core.settings import (
    SettingsError,
    TastegraphError,
    disable_telemetry,
    load_settings,
    settings_given,
    settings_table,
)

disable_telemetry()

DEMO = {"users": 200, "pins": 2000, "days": 2, "start_date": "2026-01-01", "seed": 7}


class UsageError(TastegraphError):
    """Arguments that cannot work together; the message says what to pass instead."""


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


def _pin_list(value: str) -> list[str]:
    pins = value.split(",") if value else []
    if any(not re.fullmatch(ID_PATTERN, p) for p in pins):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated pin ids without spaces, like p0000021,p0000016; got {value!r}")
    return pins


def _settings(args, must_exist: bool = True):
    settings = load_settings(getattr(args, "config", None), lake_root=getattr(args, "lake", None))
    if must_exist and not settings.lake_root.is_dir():
        raise UsageError(
            f"lake folder {settings.lake_root} does not exist: pass --lake with an existing lake, or create it "
            f"with raw logs under {settings.raw_dir} (`tastegraph generate --out {settings.raw_dir}`)")
    return settings


def cmd_generate(args) -> int:
    from pipelines.synthetic.generate import GenerateConfig, generate, parse_noise

    cfg = GenerateConfig(
        out=Path(args.out), users=args.users, pins=args.pins, days=args.days, start_date=args.start_date,
        seed=args.seed, events_per_day=args.events_per_day, noise=parse_noise(args.noise),
        style_share=args.style_share,
    )
    t0 = time.perf_counter()
    counts = generate(cfg, progress=lambda msg: print(msg, flush=True))
    print(f"wrote {counts} lines to {args.out} in {time.perf_counter() - t0:.1f}s")
    return 0


def print_summary(results) -> None:
    print()
    width = max([len("stage"), *(len(r.stage) for r in results)]) + 2
    print(f"{'stage':<{width}}{'ds':<12}{'rows in':>12}{'rows out':>12}{'seconds':>10}")
    for r in results:
        print(f"{r.stage:<{width}}{r.ds:<12}{r.rows_in:>12,}{r.rows_out:>12,}{r.seconds:>10.1f}")
    total = sum(r.seconds for r in results)
    print(f"{'total':<{width}}{'':<12}{'':>12}{'':>12}{total:>10.1f}")


def _fmt(value, shown: int = 4) -> str:
    """A value for the console: floats to 4 places, long lists (embeddings) shortened."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        head = ", ".join(_fmt(v) for v in value[:shown])
        return f"[{head}{', ...' if len(value) > shown else ''}] ({len(value)} values)"
    return str(value)


def print_lookup(found) -> None:
    """Print a lookup: the user's features once, then one line per pin; absent ones say so."""
    def line(kind: str, key: str, features) -> str:
        if features is None:
            return f"  {kind} {key}: not found in the online store"
        return f"  {kind} {key}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(features.items()))

    print(line("user", found.user_key, found.user))
    for pin, features in found.pins.items():
        print(line("pin", pin, features))


def _demo_entities(settings, ds: str) -> tuple[str, list[str]]:
    """The most active user and the three most-saved pins of `ds`, read from the feature tables."""
    from pyspark.sql import functions as F

    from pipelines.core import catalog, io
    from pipelines.core.spark import get_spark

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


def _days(args) -> tuple[str, str]:
    if args.ds:
        return args.ds.isoformat(), args.ds.isoformat()
    if not (args.start and args.end):
        raise UsageError("give both --start and --end (or --ds for one day)")
    if args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    return args.start.isoformat(), args.end.isoformat()


def _check_raw_logs(settings, start: str, end: str) -> None:
    """Every day of the range has raw events, before anything slow starts."""
    from pipelines.core.raw_files import has_input

    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    missing = [d.isoformat() for d in days if not has_input(settings.raw_dir, "events", d.isoformat())]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise UsageError(
            f"no raw events for {shown} under {settings.raw_dir / 'events'} (expected dt=YYYY-MM-DD/*.jsonl.gz): "
            f"generate logs with `tastegraph generate --out {settings.raw_dir}` or set TASTEGRAPH_RAW_ROOT")


def cmd_run(args) -> int:
    settings = _settings(args, must_exist=not args.demo)
    start, end = (None, None) if args.demo else _days(args)
    if args.one_batch and not args.start:
        raise UsageError("--one-batch runs a range: give --start and --end")
    if not args.demo:
        _check_raw_logs(settings, start, end)
    settings.lake_root.mkdir(parents=True, exist_ok=True)
    from flows import console

    log_file = console.setup(settings.lake_root, args.verbose)
    say = console.progress().info
    if args.demo:
        from pipelines.synthetic.generate import GenerateConfig, dates, generate

        cfg = GenerateConfig(
            out=settings.raw_dir, users=DEMO["users"], pins=DEMO["pins"], days=DEMO["days"],
            start_date=dt.date.fromisoformat(DEMO["start_date"]), seed=DEMO["seed"],
        )
        say(f"generating {cfg.days} days of demo logs into {cfg.out}")
        generate(cfg)
        days = dates(cfg)
        start, end = days[0], days[-1]
    say(f"starting (log: {log_file})")
    from flows.daily import backfill, data_docs_index, history_batch
    from flows.serving import lookup
    from pipelines.core import catalog
    from pipelines.core.spark import get_spark

    console.quiet_libraries()
    get_spark(settings, jvm_log=None if args.verbose else log_file)
    results = (history_batch if args.one_batch else backfill)(start, end, lake_root=str(settings.lake_root),
                                                             config_file=args.config)
    print_summary(results)
    if args.demo:
        user, pins = _demo_entities(settings, end)
        print(f"\nonline lookup through Feast (feature service ranking_v1) for user {user} and pins {', '.join(pins)}:")
        with console.to_log():
            found = lookup(settings, user, pins)
        print_lookup(found)
        print(f"\nlookup again with: tastegraph lookup --lake {settings.lake_root} --user {user} --pins {','.join(pins)}")
        print("\noffline evaluation on held-out behaviour (tastegraph evaluate):")
        report_page = _evaluate_and_report(settings, args.config, end)
    print(f"\ntables are under {settings.lake_root.resolve()}:")
    written = [t for t in catalog.ALL_TABLES if Path(t.path(settings)).is_dir()]
    width = max([len(t.zone + "." + t.name) for t in written] + [26]) + 2
    for table in written:
        print(f"  {table.zone + '.' + table.name:<{width}}{table.path(settings)}")
    print(f"  {'feast online store':<{width}}{(settings.feast_dir / 'online_store.db').resolve()}")
    print(f"  {'data docs':<{width}}{data_docs_index(settings)}")
    print(f"  {'log':<{width}}{log_file.resolve()}")
    if args.demo:
        print(f"  {'evaluation report':<{width}}{report_page}")
    return 0


def cmd_lookup(args) -> int:
    settings = _settings(args)
    registry = settings.feast_dir / "registry.db"
    if not registry.exists():
        raise UsageError(f"no Feast registry at {registry}: run `tastegraph run` for this lake first")
    from flows import console
    from flows.serving import lookup

    console.setup(settings.lake_root, verbose=False)
    with console.to_log():
        found = lookup(settings, args.user, args.pins)
    print_lookup(found)
    return 0 if found.user is not None or any(v is not None for v in found.pins.values()) else 1


def submit_command(stage: str, ds: str, settings, config: str | None = None,
                   through: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The spark-submit command line (and environment) that runs one stage as the flow does."""
    from pipelines import jobs
    from pipelines.core.spark import delta_jars, submit_conf

    bin_dir = Path(sys.executable).parent
    env = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "TASTEGRAPH_LAKE_ROOT": str(settings.lake_root)}
    command = [str(bin_dir / "spark-submit"), "--master", settings.spark_master,
               "--driver-memory", settings.spark_driver_memory, "--jars", ",".join(delta_jars(settings))]
    log_file = settings.lake_root / "_logs" / f"submit-{stage}-{ds}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    for key, value in submit_conf(settings, log_file.resolve()).items():
        command += ["--conf", f"{key}={value}"]
    command += [jobs.__file__, stage, "--ds", ds, *(["--through", through] if through else [])]
    if config:
        command += ["--config", str(Path(config).resolve())]
    return command, env


def cmd_submit(args) -> int:
    from pipelines.registry import BY_NAME

    if args.stage not in BY_NAME:
        raise UsageError(f"unknown stage {args.stage!r}; stages: {', '.join(BY_NAME)}")
    if args.through and not BY_NAME[args.stage].takes_range:
        ranged = ", ".join(name for name, stage in BY_NAME.items() if stage.takes_range)
        raise UsageError(f"stage {args.stage} runs one day; --through is for the stages that take a range: {ranged}")
    if args.through and args.through < args.ds:
        raise UsageError(f"--through {args.through} is before --ds {args.ds}")
    settings = _settings(args)
    command, env = submit_command(args.stage, args.ds.isoformat(), settings, args.config,
                                  args.through.isoformat() if args.through else None)
    print(" ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()), " ".join(shlex.quote(c) for c in command),
          flush=True)
    return subprocess.call(command, env={**os.environ, **env})


def print_training_set(rep, action: str) -> None:
    print(f"training set {rep.training_set_id} {action}: {rep.rows:,} examples")
    print(f"  path     {rep.path}  (partition training_set_id={rep.training_set_id})")
    print(f"  {'split':<12}{'label 0':>12}{'label 1':>12}")
    for split, labels in rep.by_split_label.items():
        print(f"  {split:<12}{labels.get('0', 0):>12,}{labels.get('1', 0):>12,}")
    share = (lambda v: "n/a" if v is None else f"{v:.1%}")
    print(f"  test users never seen in train: {share(rep.unseen_test_users)}; "
          f"test pins never seen in train: {share(rep.unseen_test_pins)}")
    missing = ", ".join(f"{view} {n:,}" for view, n in rep.missing_features.items())
    print(f"  examples with no feature row (nulls) per view: {missing}")
    print(f"  content hash {rep.content_hash[:16]}; inputs {rep.input_versions}")


def cmd_training_set(args) -> int:
    settings = _settings(args)
    if args.action == "build" and args.end < args.start:  # a usage error (exit 2), before any settings logic
        raise UsageError(f"the range {args.start}..{args.end} is empty: --end must not be before --start")
    overrides = {k: v for k, v in (("split_validation_start", getattr(args, "validation_start", None)),
                                   ("split_test_start", getattr(args, "test_start", None))) if v}
    settings = settings.replace(**overrides) if overrides else settings
    from flows import console, serving, training
    from pipelines.core.spark import get_spark
    from pipelines.training.sets import spec_of

    if args.action == "build":  # a bad range, split date or feature service, before Spark starts
        spec = spec_of(settings, args.start, args.end, args.feature_service)
        spec.check()
        serving.service_tables(settings, spec.feature_service)
    log_file = console.setup(settings.lake_root, verbose=False)
    console.quiet_libraries()
    get_spark(settings, jvm_log=log_file)
    with console.to_log():
        if args.action == "build":
            rep = training.build(settings, args.start, args.end, args.feature_service, args.gold)
        else:
            rep = training.rebuild(settings, args.id)
    print_training_set(rep, "built" if args.action == "build" else "rebuilt, content hash as recorded")
    if getattr(args, "gold", None):
        print(f"  gold set {args.gold!r} frozen from its test split")
    return 0


def cmd_import_movielens(args) -> int:
    from pipelines.importers.movielens import import_movielens

    settings = load_settings(args.config)  # the ingest's earliest_event_date, so nothing imported is rejected later
    t0 = time.perf_counter()
    summary = import_movielens(Path(args.src), Path(args.out), earliest=settings.earliest_event_date,
                               progress=lambda msg: print(msg, flush=True))
    print("\n".join(summary.lines()))
    print(f"  seconds {time.perf_counter() - t0:>11.1f}")
    raw = shlex.quote(str(Path(args.out).resolve()))
    print(f"\nnext: point the ingest at these raw logs and run their days in one batch, e.g.\n"
          f"  mkdir -p lake && TASTEGRAPH_RAW_ROOT={raw} tastegraph run --lake lake "
          f"--start {summary.first_date} --end {summary.last_date} --one-batch")
    return 0


def print_evaluation(rows) -> None:
    """The test split's headline figures, one line per method."""
    test = rows[(rows.split == "test") & (rows.slice == "all")]
    columns = (("B_full_ranking", "recall", 20), ("B_full_ranking", "ndcg", 20), ("A_sampled_100", "hr", 10),
               ("A_sampled_100", "ndcg", 10))
    print(f"\n{'method':<14}{'Recall@20':>11}{'NDCG@20':>9}{'HR@10 (A)':>11}{'NDCG@10 (A)':>13}   notes")
    from pipelines.evaluation.methods import METHODS

    for method in [m for m in METHODS if m in set(test.method)]:
        mine = test[test.method == method]
        cells = []
        for protocol, metric, k in columns:
            hit = mine[(mine.protocol == protocol) & (mine.metric == metric) & (mine.k == k)]
            value = hit.value.iloc[0] if not hit.empty else None
            cells.append("n/a" if value is None or value != value else f"{value:.4f}")
        notes = "; ".join(sorted(set(mine.note.dropna())))[:60]
        print(f"{method:<14}{cells[0]:>11}{cells[1]:>9}{cells[2]:>11}{cells[3]:>13}   {notes}")


def _evaluate_and_report(settings, config: str | None, ds: str | None) -> Path:
    from flows import console
    from flows.evaluation import evaluate, results_frame, write_report

    results = evaluate(ds, lake_root=str(settings.lake_root), config_file=config)
    print_summary(results)
    ds = results[0].ds
    print_evaluation(results_frame(settings, ds)[1])
    with console.to_log():
        page = write_report(settings, ds)
    return page


def cmd_evaluate(args) -> int:
    settings = _settings(args)
    from pipelines.evaluation.requirements import require_events

    require_events(settings)  # a one-line answer before the engines are imported
    from flows import console

    log_file = console.setup(settings.lake_root, args.verbose)
    console.progress().info(f"evaluating (log: {log_file})")
    from pipelines.core.spark import get_spark

    console.quiet_libraries()
    get_spark(settings, jvm_log=None if args.verbose else log_file)
    from flows.evaluation import latest_event_date

    page = _evaluate_and_report(settings, args.config, args.ds.isoformat() if args.ds else latest_event_date(settings))
    print(f"\nreport: {page}")
    return 0


def cmd_report(args) -> int:
    settings = _settings(args)
    from flows import console
    from pipelines.evaluation.requirements import require_results

    require_results(settings)  # a one-line answer before the engines are imported
    from flows.evaluation import write_report
    from pipelines.core.spark import get_spark

    log_file = console.setup(settings.lake_root, verbose=False)
    get_spark(settings, jvm_log=log_file)  # Spark's start-up lines go to the log, not the console

    page = write_report(settings, args.ds.isoformat() if args.ds else None, Path(args.out) if args.out else None)
    print(f"report: {page}")
    return 0


def cmd_stages(args) -> int:
    from pipelines.registry import ALL_STAGES as STAGES

    width = max(len(stage.name) for stage in STAGES) + 2
    for stage in STAGES:
        print(f"{stage.name:<{width}}{stage.description}")
        print(f"{'':<{width}}reads: {', '.join(t.name for t in stage.reads) or 'raw logs'}; "
              f"writes: {', '.join(t.name for t in stage.writes)}")
    return 0


def cmd_settings(args) -> int:
    given = {name: (value, source) for name, value, source in settings_given(args.config)}  # checked first
    table = settings_table()
    width = max(len(name) for name, _, _ in table) + 2
    for name, default, meaning in table:
        if len(default) < 22:
            print(f"{name:<{width}}{default:<22}{meaning}")
        else:  # a long default gets a line of its own
            print(f"{name:<{width}}{'(below)':<22}{meaning}\n{'':<{width}}default: {default}")
        if name in given:
            print(f"{'':<{width}}in effect: {given[name][0]} (from {given[name][1]})")
    return 0


def cmd_feast(args) -> int:
    """Run the feast CLI on the repository in features/, pointed at a lake."""
    settings = _settings(args)  # before the slow imports: a missing lake is one line
    import yaml

    from flows.serving import repo_config

    config = repo_config(settings)
    config["offline_store"]["spark_conf"]["spark.driver.extraClassPath"] = str(settings.jars_dir.resolve() / "*")
    path = settings.feast_dir / "feature_store.yaml"
    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    feast = Path(sys.executable).parent / "feast"
    command = [str(feast), "-c", str(settings.feature_repo), "-f", str(path.resolve()), *args.feast_args]
    env = {**os.environ, "TASTEGRAPH_LAKE_ROOT": str(settings.lake_root.resolve())}
    return subprocess.call(command, env=env)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one `tastegraph: ...` line that says where the help is."""

    def error(self, message: str):
        print(f"tastegraph: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tastegraph", description="Taste-graph feature platform.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
    g.add_argument("--style-share", type=float, default=0.0,
                   help="share of title/description words about a pin's style, not its interest (0 to <1; default 0)")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("run", help="run the daily flow (demo, one day, or a range)")
    common(r)
    when = r.add_mutually_exclusive_group(required=True)
    when.add_argument("--demo", action="store_true", help="generate a small dataset and run it end to end")
    when.add_argument("--ds", type=_date, help="one day")
    when.add_argument("--start", type=_date, help="first day of a range (with --end)")
    r.add_argument("--end", type=_date, help="last day of a range (with --start)")
    r.add_argument("--one-batch", action="store_true",
                   help="a history backfill: ingest every day of --start..--end in one batch, then build each "
                        "derived table once (same tables as one run per day)")
    r.add_argument("--verbose", action="store_true", help="show every library's output, not only progress")
    r.set_defaults(func=cmd_run)

    lk = sub.add_parser("lookup", help="read online features through Feast")
    common(lk)
    lk.add_argument("--user", required=True)
    lk.add_argument("--pins", type=_pin_list, default=[], help="comma-separated pin ids")
    lk.set_defaults(func=cmd_lookup)

    sb = sub.add_parser("submit", help="run one Spark stage with spark-submit")
    common(sb)
    sb.add_argument("stage")
    sb.add_argument("--ds", type=_date, required=True)
    sb.add_argument("--through", type=_date, help="last day of a range, for the stages that take one")
    sb.set_defaults(func=cmd_submit)

    ts = sub.add_parser("training-set", help="build a training set through Feast, or rebuild a recorded one")
    ts_sub = ts.add_subparsers(dest="action", required=True, parser_class=_Parser)
    tb = ts_sub.add_parser("build", help="examples of a date range with point-in-time features")
    common(tb)
    tb.add_argument("--start", type=_date, required=True, help="first day of the examples")
    tb.add_argument("--end", type=_date, required=True, help="last day of the examples")
    tb.add_argument("--validation-start", type=_date, help="first validation day (default: the day before --end)")
    tb.add_argument("--test-start", type=_date, help="first test day (default: --end)")
    tb.add_argument("--feature-service", help="Feast feature service (default: training_feature_service)")
    tb.add_argument("--gold", help="also freeze the test split as this gold set version (never overwritten)")
    tb.set_defaults(func=cmd_training_set)
    tr = ts_sub.add_parser("rebuild", help="rebuild a recorded training set by Delta time travel")
    common(tr)
    tr.add_argument("--id", required=True, help="the training set id a build printed")
    tr.set_defaults(func=cmd_training_set)

    im = sub.add_parser("import", help="convert a real data set into raw logs")
    im_sub = im.add_subparsers(dest="dataset", required=True, parser_class=_Parser)
    ml = im_sub.add_parser("movielens", help="a MovieLens release (100K, 1M/10M or CSV format) -> raw logs, "
                                             "all or nothing")
    ml.add_argument("--src", required=True, help="the release folder (u.data, u.item, u.genre; ratings.dat, "
                                                 "movies.dat; or ratings.csv, movies.csv)")
    ml.add_argument("--out", required=True,
                    help="raw root to write: new, empty, or an earlier import of the same --src (replaced)")
    ml.add_argument("--config", help="TOML settings file (or TASTEGRAPH_CONFIG): its earliest_event_date applies")
    ml.set_defaults(func=cmd_import_movielens)

    ev = sub.add_parser("evaluate", help="evaluate baselines and taste-graph methods on held-out behaviour, "
                                         "then write the report")
    common(ev)
    ev.add_argument("--ds", type=_date, help="evaluate behaviour up to this day (default: the last event date)")
    ev.add_argument("--verbose", action="store_true", help="show every library's output, not only progress")
    ev.set_defaults(func=cmd_evaluate)

    rp = sub.add_parser("report", help="write the evaluation report page (HTML, opens offline)")
    common(rp)
    rp.add_argument("--ds", type=_date, help="the evaluated day (default: the latest)")
    rp.add_argument("--out", help="where to write the page (default: <lake>/_reports/evaluation.html)")
    rp.set_defaults(func=cmd_report)

    st = sub.add_parser("stages", help="list the Spark stages")
    st.set_defaults(func=cmd_stages)

    se = sub.add_parser("settings", help="list the settings, their defaults and ranges, and the values that a TOML "
                                         "file or TASTEGRAPH_* variables set")
    se.add_argument("--config", help="TOML settings file (or TASTEGRAPH_CONFIG)")
    se.set_defaults(func=cmd_settings)

    fe = sub.add_parser("feast", help="run the feast CLI on features/ for a lake: tastegraph feast -- apply")
    common(fe)
    fe.add_argument("feast_args", nargs=argparse.REMAINDER, help="arguments for feast, after --")
    fe.set_defaults(func=cmd_feast)
    return parser


def _log_traceback(exc: BaseException) -> None:
    """Keep the traceback in the run's log file (when there is one), never on the console."""
    if "flows.console" not in sys.modules:
        return
    from flows import console

    if console.log_file() is not None:
        import logging

        logging.getLogger("tastegraph").error("run failed", exc_info=exc)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "feast_args", None) and args.feast_args[0] == "--":
        args.feast_args = args.feast_args[1:]
    try:
        return args.func(args)
    except (SettingsError, UsageError) as exc:
        print(f"tastegraph: {exc}", file=sys.stderr)
        return 2
    except TastegraphError as exc:
        _log_traceback(exc)
        print(f"tastegraph: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tastegraph: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
