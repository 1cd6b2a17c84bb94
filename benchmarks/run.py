"""Scale runs, never part of `make test`. Results go to bench-out/*.json and a printed table.

    make bench                                           # stages at a small default scale
    make bench BENCH_ARGS="ingest --events-per-day 1000000 --repeat 3"
    make bench BENCH_ARGS="stages --events-per-day 1000000 --users 50000 --pins 200000"

`stages` runs every Spark stage in one session and records seconds and rows per stage.
`graph` ingests each day and times graph, pin_pin, related_pins and user_candidates (seconds,
shuffle bytes, peak memory), with DuckDB computing the same co-save on the same edges as the
reference. `--derived ends` runs the full recomputations (pin_pin, related_pins,
user_candidates, DuckDB) on the first and last day only: enough to compare day 1 with day 30
of the incremental graph stage.
`flow` runs the daily Prefect flow day by day (stages, gates, Feast) and reports the gate's
share of each day.
`embeddings` (after `flow`, same sizes) retrains each embedding stage on the flow's lake as its
own process (seconds, peak memory), times Beam RunInference against a Spark pandas UDF applying
the same models (interleaved, `--repeat`), and records the quality figures.
`training` (after `flow`, same sizes) joins every labelled example of the flow's days to the
training feature service, by Feast's point-in-time join and by the project's own as-of join,
each as its own process (seconds, peak memory), and checks both give the same rows.
`movielens` imports a MovieLens release (default: ../shared/datasets/movielens-100k) and runs
its whole history with `tastegraph run --one-batch`, then `tastegraph evaluate`, each as its own
process (seconds, peak memory), with the settings of benchmarks/movielens.toml; it reads the
seconds of every stage and gate from ops.pipeline_runs and the headline figures from
eval_results_v1.
`kernels` times the numpy kernels on their own (no Spark): the graph aligner's training at the
1M-events shape, and evaluation's top-k against the full sort it replaced (`benchmarks/kernels.py`).
`ingest` runs the ingest job (spark-submit style, one process per day) for two consecutive
days, sampling the peak memory of the whole process tree (driver + JVM), and in the same run
DuckDB reading and deduplicating the same files as the single-machine reference.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from benchmarks.kernels import bench_kernels
from benchmarks.measure import run_measured
from pipelines.core.settings import disable_telemetry, load_settings
from pipelines.synthetic.generate import GenerateConfig, dates, generate, parse_noise

OUT = Path("bench-out")
# MovieLens settings chosen from what the data is, before any evaluation (see the file).
MOVIELENS_CONFIG = Path(__file__).resolve().parent / "movielens.toml"


def _raw_folder(args) -> Path:
    styled = f"-st{args.style_share:g}" if args.style_share else ""
    return OUT / f"raw-u{args.users}-p{args.pins}-e{args.events_per_day}-d{args.days}-s{args.seed}{styled}"


def _raw(args) -> tuple[Path, GenerateConfig, dict]:
    """Generate (or reuse) raw logs for these arguments."""
    raw = _raw_folder(args)
    cfg = GenerateConfig(out=raw, users=args.users, pins=args.pins, days=args.days, seed=args.seed,
                         events_per_day=args.events_per_day, start_date=dt.date(2026, 1, 1),
                         noise=parse_noise(args.noise), style_share=args.style_share)
    marker = raw / "_GENERATED.json"
    if marker.exists():
        return raw, cfg, json.loads(marker.read_text())
    t0 = time.perf_counter()
    counts = generate(cfg, progress=lambda m: print(m, flush=True))
    info = {"lines": counts, "seconds": round(time.perf_counter() - t0, 1)}
    marker.write_text(json.dumps(info))
    return raw, cfg, info


def bench_stages(args) -> dict:
    from pipelines.core.spark import get_spark
    from pipelines.core.stages import run_stage
    from pipelines.registry import STAGES

    raw, cfg, gen = _raw(args)
    lake = OUT / "lake-stages"
    shutil.rmtree(lake, ignore_errors=True)
    settings = load_settings(lake_root=lake, raw_root=raw, quarantine_max_share=1.0)
    spark = get_spark(settings, app_name="tastegraph-bench")
    records = []
    for ds in dates(cfg):
        for stage in STAGES:
            result = run_stage(stage, ds, settings, spark)
            records.append({"ds": ds, "stage": stage.name, "rows_in": result.rows_in, "rows_out": result.rows_out,
                            "seconds": round(result.seconds, 2)})
            print(f"{stage.name:<16}{ds:<12}{result.rows_in:>12,}{result.rows_out:>12,}{result.seconds:>9.1f}s", flush=True)
    return {"generated": gen, "stages": records}


FLOW_RAW_MARKER = "_BENCH_RAW"  # which generated logs the flow bench's lake was built from


def _flow_lake(args, table) -> Path:
    """The flow bench's lake, checked to hold `table` and to come from the logs these arguments
    name (sizes, seed, style share) before anything is generated or measured."""
    lake = OUT / "lake-flow"
    if not (lake / table.zone / table.name).exists():
        raise SystemExit(f"no {table.name} in {lake}: run `make bench BENCH_ARGS=\"flow ...\"` with the same arguments first")
    marker = lake / FLOW_RAW_MARKER
    built_from = marker.read_text() if marker.exists() else "unknown logs"
    expected = _raw_folder(args).name
    if built_from != expected:
        raise SystemExit(f"{lake} was built from {built_from}, not {expected}: pass the flow bench's arguments "
                         "(--users, --pins, --events-per-day, --days, --seed, --style-share) or run `flow` with these")
    return lake


def bench_flow(args) -> dict:
    """The daily Prefect flow, day by day: every stage, its gate and Feast, with the gate's
    share of each day's time (a ratio within one run, so the machine's noise mostly cancels)."""
    from flows.daily import daily_taste_graph

    raw, cfg, gen = _raw(args)
    lake = OUT / "lake-flow"
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    (lake / FLOW_RAW_MARKER).write_text(raw.name)
    os.environ["TASTEGRAPH_RAW_ROOT"] = str(raw.resolve())
    days = []
    for ds in dates(cfg):
        t0 = time.perf_counter()
        results = daily_taste_graph(ds, lake_root=str(lake))
        wall = time.perf_counter() - t0
        steps = {r.stage: round(r.seconds, 2) for r in results}
        gate = sum(v for k, v in steps.items() if k.startswith("gate:"))
        day = {"ds": ds, "wall_seconds": round(wall, 1), "steps": steps, "gate_seconds": round(gate, 1),
               "gate_share": round(gate / wall, 3),
               "rows_checked": sum(r.rows_in for r in results if r.stage.startswith("gate:")),
               "gate_steps": {r.stage: {**r.details.get("step_seconds", {}), **r.details.get("table_seconds", {})}
                              for r in results if r.stage.startswith("gate:")}}
        days.append(day)
        print(f"{ds}: {wall:.1f}s, gate {gate:.1f}s ({100 * gate / wall:.1f}%), "
              f"{day['rows_checked']:,} rows checked", flush=True)
        for name, seconds in steps.items():
            print(f"  {name:<24}{seconds:>9.1f}s", flush=True)
    return {"generated": gen, "days": days}


def checker_cost(raw: Path, ds: str, lines: int = 100_000) -> dict:
    """Microseconds a line of the contract checker, in this process without Spark: the exact
    path alone, and the fast path with the exact one behind it (what the ingest runs); medians
    of 3 over the first lines of the day's first events file."""
    import gzip

    from pipelines.ingest.raw_lines import LineChecker, checked_row, exact_row

    first = sorted((raw / "events" / f"dt={ds}").glob("*.jsonl.gz"))[0]
    with gzip.open(first) as fh:
        sample = [line.rstrip(b"\n") for _, line in zip(range(lines), fh)]
    checker = LineChecker("events", dt.date.fromisoformat(ds), dt.date(1995, 1, 1))
    cost = {}
    for name, row in (("exact", exact_row), ("fast_then_exact", checked_row)):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            for number, line in enumerate(sample, start=1):
                row(checker, line, number)
            times.append(time.perf_counter() - t0)
        cost[name] = round(statistics.median(times) / len(sample) * 1e6, 2)
    print(f"checker, us a line over {len(sample):,} event lines of {ds}: {cost}", flush=True)
    return cost


def bench_ingest(args) -> dict:
    raw, cfg, gen = _raw(args)
    days = dates(cfg)[:2]
    checker = checker_cost(raw, days[-1])
    runs = []
    for rep in range(args.repeat):
        lake = OUT / "lake-ingest"
        shutil.rmtree(lake, ignore_errors=True)
        env = {**os.environ, "TASTEGRAPH_LAKE_ROOT": str(lake), "TASTEGRAPH_RAW_ROOT": str(raw),
               "TASTEGRAPH_QUARANTINE_MAX_SHARE": "1.0"}
        for ds in days:
            spark_run = run_measured([sys.executable, "-m", "pipelines.jobs", "ingest", "--ds", ds], env=env)
            if spark_run.returncode != 0:
                raise SystemExit(f"spark ingest failed:\n{spark_run.stderr[-3000:]}")
            job = json.loads(spark_run.stdout[spark_run.stdout.index("{"):])
            out = OUT / f"duckdb-{ds}.parquet"
            duck = run_measured([sys.executable, "-m", "benchmarks.duckdb_ingest", str(raw), ds, str(out)])
            if duck.returncode != 0:
                raise SystemExit(f"duckdb failed:\n{duck.stderr[-3000:]}")
            duck_job = json.loads(duck.stdout)
            row = {
                "repeat": rep, "ds": ds, "lines": job["rows_in"],
                "spark_stage_seconds": job["seconds"], "spark_process_seconds": round(spark_run.seconds, 2),
                "spark_lines_per_second": round(job["rows_in"] / job["seconds"]),
                "spark_peak_rss_mb": round(spark_run.peak_rss_mb),
                "duckdb_seconds": duck_job["seconds"], "duckdb_process_seconds": round(duck.seconds, 2),
                "duckdb_lines_per_second": round(duck_job["lines_read"] / duck_job["seconds"]),
                "duckdb_peak_rss_mb": round(duck.peak_rss_mb),
                "ratio_spark_over_duckdb": round(job["seconds"] / duck_job["seconds"], 2),
                "spark_steps": job.get("step_seconds", {}),
            }
            runs.append(row)
            print(json.dumps(row), flush=True)
    medians = {}
    for ds in days:
        mine = [r for r in runs if r["ds"] == ds]
        medians[ds] = {k: statistics.median(r[k] for r in mine) for k in mine[0]
                       if k not in ("repeat", "ds", "spark_steps")}
        medians[ds]["spark_steps"] = {step: statistics.median(r["spark_steps"].get(step, 0.0) for r in mine)
                                      for step in mine[0]["spark_steps"]}
    print("\nmedians per day:")
    for ds, m in medians.items():
        print(f"  {ds}: {json.dumps(m)}")
    return {"generated": gen, "checker_us_per_line": checker, "runs": runs, "medians": medians}


class _Sampler:
    """Peak RSS of this process and its children (the JVM), sampled in a thread."""

    def __init__(self):
        import threading

        import psutil

        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = 0
            for p in [self._proc, *self._proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except Exception:  # noqa: BLE001 - a process may end between listing and reading
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _shuffle_bytes(port: int) -> int:
    """Shuffle bytes written by all completed stages so far, from the Spark UI's REST API."""
    import urllib.request

    base = f"http://127.0.0.1:{port}/api/v1/applications"
    app = json.load(urllib.request.urlopen(base))[0]["id"]
    stages = json.load(urllib.request.urlopen(f"{base}/{app}/stages?status=complete"))
    return sum(s.get("shuffleWriteBytes", 0) for s in stages)


def bench_graph(args) -> dict:
    """Ingest each day, then time graph, pin_pin and related_pins: seconds, shuffle bytes, peak RSS."""
    from pipelines.core import catalog
    from pipelines.core.spark import get_spark
    from pipelines.core.stages import run_stage
    from pipelines.registry import stage as declared

    raw, cfg, gen = _raw(args)
    lake = OUT / "lake-graph"
    shutil.rmtree(lake, ignore_errors=True)
    port = 4077
    settings = load_settings(lake_root=lake, raw_root=raw, quarantine_max_share=1.0,
                             spark_conf={"spark.ui.enabled": "true", "spark.ui.port": str(port),
                                         # keep every stage: shuffle bytes are summed over all of them
                                         "spark.ui.retainedStages": "1000000", "spark.ui.retainedJobs": "1000000"})
    spark = get_spark(settings, app_name="tastegraph-bench-graph")
    records = []
    days = dates(cfg)
    for ds in days:
        ingest = run_stage(declared("ingest"), ds, settings, spark)
        row = {"ds": ds, "ingest_seconds": round(ingest.seconds, 2), "events": ingest.rows_in}
        derived = args.derived == "all" or ds in (days[0], days[-1])
        for stage in ("graph", "pin_pin", "related_pins", "user_candidates") if derived else ("graph",):
            before = _shuffle_bytes(port)
            with _Sampler() as sampler:
                result = run_stage(declared(stage), ds, settings, spark)
            row[f"{stage}_seconds"] = round(result.seconds, 2)
            row[f"{stage}_shuffle_mb"] = round((_shuffle_bytes(port) - before) / 2**20, 1)
            row[f"{stage}_peak_rss_mb"] = round(sampler.peak / 2**20)
            row[f"{stage}_rows_out"] = result.rows_out
            if stage == "graph":
                row["graph_steps"] = result.details["step_seconds"]
                row["edges_changed"] = result.details["edges_changed"]
            if stage == "pin_pin":
                row["pair_cost"] = result.details["pair_cost_sum_min_degree_cap_squared"]
        if not derived:
            records.append(row)
            print(json.dumps(row), flush=True)
            continue
        duck = run_measured([sys.executable, "-m", "benchmarks.duckdb_cooccurrence",
                             catalog.GRAPH_EDGES.path(settings), str(settings.board_pin_cap),
                             str(settings.pin_pin_top_k)])
        if duck.returncode != 0:
            raise SystemExit(f"duckdb failed:\n{duck.stderr[-3000:]}")
        row["duckdb_cosave_seconds"] = json.loads(duck.stdout)["seconds"]
        row["ratio_pin_pin_over_duckdb"] = round(row["pin_pin_seconds"] / row["duckdb_cosave_seconds"], 2)
        records.append(row)
        print(json.dumps(row), flush=True)
    return {"generated": gen, "days": records, "precision_at_10": _quality(spark, settings)}


def _quality(spark, settings) -> dict:
    """precision@10 against planted interests: related_pins, pin_pin_edges, user_candidates and
    the popularity baselines."""
    from pipelines.core import catalog, io
    from pipelines.evaluation.planted import (
        popular_pins,
        popularity_recs,
        precision_at_k,
        user_interests,
        user_precision_at_k,
    )
    from pipelines.graph import shared

    main = shared.pin_main_interest(io.read_table(spark, catalog.SILVER_PINS, settings)).persist()
    related = io.read_table(spark, catalog.RELATED_PINS, settings)
    neighbours = io.read_table(spark, catalog.PIN_PIN_EDGES, settings).withColumnRenamed("other_pin_id",
                                                                                        "candidate_pin_id")
    saved = shared.saved_to_links(io.read_table(spark, catalog.GRAPH_EDGES, settings))
    quality = {
        "related_pins": precision_at_k(related, main, 10, "candidate_pin_id"),
        "pin_pin_edges": precision_at_k(neighbours, main, 10, "candidate_pin_id"),
        "popularity": precision_at_k(popularity_recs(saved, related.select("pin_id"), 10), main, 10,
                                     "candidate_pin_id"),
        "query_pins": related.select("pin_id").distinct().count(),
    }
    recs = io.read_table(spark, catalog.USER_CANDIDATES, settings)
    interests = user_interests(io.read_table(spark, catalog.SILVER_BOARDS, settings))
    users = recs.select("user_id").distinct()
    quality["user_candidates"] = user_precision_at_k(recs, interests, main, 10)
    quality["user_popularity"] = user_precision_at_k(users.crossJoin(popular_pins(saved, 10)), interests, main, 10)
    quality["users"] = users.count()
    print(f"precision@10: {json.dumps(quality)}", flush=True)
    return quality


EMBEDDING_STAGES = ("graph_embeddings", "collaborative_embeddings", "content_embeddings", "pin_embeddings",
                    "user_interests")


def _spark_udf_encode(spark, documents: Path, out: Path, encoder_dir: Path, aligner_dir: Path) -> None:
    """The same two models applied in Spark by a pandas UDF (mapInPandas), for comparison."""
    import pandas as pd

    from pipelines.embeddings import encoders

    def apply(batches):
        encoder = encoders.load(encoder_dir / encoders.ENCODER_FILE)
        aligner = encoders.load(aligner_dir / encoders.ALIGNER_FILE)
        for batch in batches:
            content = encoders.encode(encoder, list(batch["document"]))
            aligned = encoders.align(aligner, list(content))
            yield pd.DataFrame({"pin_id": batch["pin_id"], "content_embedding": list(content),
                                "aligned_embedding": list(aligned)})

    schema = "pin_id string, content_embedding array<float>, aligned_embedding array<float>"
    spark.read.parquet(str(documents)).mapInPandas(apply, schema).write.mode("overwrite").parquet(str(out))


def bench_embeddings(args) -> dict:
    """On the flow benchmark's lake (run `flow` first): each embedding stage retrained from
    scratch as its own spark-submit-style process (seconds, peak memory), Beam RunInference
    against a Spark pandas UDF applying the same models (pins/s, interleaved repeats), and the
    quality figures (recorded in ops.embedding_quality)."""
    import statistics as st

    from pipelines.core import catalog, io
    from pipelines.core.spark import get_spark
    from pipelines.embeddings import beam_inference, content, models
    from pipelines.evaluation import embeddings as quality

    lake = _flow_lake(args, catalog.PIN_EMBEDDINGS)  # checked before generating anything
    raw, cfg, gen = _raw(args)
    ds = dates(cfg)[-1]
    settings = load_settings(lake_root=lake, raw_root=raw)
    shutil.rmtree(lake / "_models", ignore_errors=True)  # every stage trains its model again
    env = {**os.environ, "TASTEGRAPH_LAKE_ROOT": str(lake), "TASTEGRAPH_RAW_ROOT": str(raw)}
    stages = []
    for name in EMBEDDING_STAGES:
        measured = run_measured([sys.executable, "-m", "pipelines.jobs", name, "--ds", ds], env=env)
        if measured.returncode != 0:
            raise SystemExit(f"{name} failed:\n{measured.stderr[-3000:]}")
        job = json.loads(measured.stdout[measured.stdout.index("{"):])
        stages.append({"stage": name, "rows_in": job["rows_in"], "rows_out": job["rows_out"],
                       "stage_seconds": job["seconds"], "process_seconds": round(measured.seconds, 1),
                       "peak_rss_mb": round(measured.peak_rss_mb), "steps": job.get("step_seconds", {})})
        print(f"{name:<26}{job['rows_in']:>12,}{job['rows_out']:>12,}{job['seconds']:>9.1f}s"
              f"{measured.peak_rss_mb:>9.0f} MB", flush=True)

    spark = get_spark(settings, app_name="tastegraph-bench")
    encoder = models.models(settings, content.ENCODER_FAMILY)[-1]
    aligner = models.models(settings, content.ALIGNER_FAMILY)[-1]
    work = OUT / "inference"
    shutil.rmtree(work, ignore_errors=True)
    docs = content.pin_documents(io.read_table(spark, catalog.SILVER_PINS, settings),
                                 io.read_table(spark, catalog.SILVER_BOARDS, settings),
                                 io.read_table(spark, catalog.GRAPH_EDGES, settings))
    docs.where("document <> ''").select("pin_id", "document").write.parquet(str(work / "documents"))
    pins = spark.read.parquet(str(work / "documents")).count()
    timings: dict[str, list[float]] = {"beam": [], "spark_pandas_udf": []}
    for rep in range(args.repeat):
        for engine in ("beam", "spark_pandas_udf"):
            out = work / f"{engine}-{rep}"
            t0 = time.perf_counter()
            if engine == "beam":
                beam_inference.encode_pins(work / "documents", out, encoder.path, aligner.path, settings.beam_runner,
                                           settings.beam_options)
            else:
                _spark_udf_encode(spark, work / "documents", out, encoder.path, aligner.path)
            timings[engine].append(time.perf_counter() - t0)
            print(f"{engine:<18}{pins:>10,} pins {timings[engine][-1]:>8.1f}s {pins / timings[engine][-1]:>9,.0f} pins/s",
                  flush=True)
    inference = {engine: {"median_seconds": round(st.median(v), 1), "pins_per_second": round(pins / st.median(v))}
                 for engine, v in timings.items()}
    inference["pins"] = pins
    inference["ratio_beam_over_spark"] = round(st.median(timings["beam"]) / st.median(timings["spark_pandas_udf"]), 2)

    rows = quality.measure(spark, settings, ds)
    quality.record(spark, settings, rows)
    for r in rows:
        print(f"{r['family']:<40}{r['metric']:<32}{r['value']:.3f}  ({r['baseline']}: {r['baseline_value']:.3f})",
              flush=True)
    return {"generated": gen, "ds": ds, "stages": stages, "inference": inference,
            "quality": [{k: (str(v) if k == "measured_at" or k == "ds" else v) for k, v in r.items()} for r in rows]}


def bench_training(args) -> dict:
    """On the flow benchmark's lake (run `flow` first): the training set's point-in-time join
    of every labelled example of the flow's days, by Feast (`get_historical_features`, Spark
    offline store) and by the project's own as-of join on the same pinned Delta versions, each
    as its own process (seconds of the join and write, peak memory of the process tree),
    interleaved `--repeat` times; both must give the same content hash."""
    from pipelines.core import catalog

    lake = _flow_lake(args, catalog.TRAINING_EXAMPLES)
    _, cfg, gen = _raw(args)
    days = dates(cfg)
    runs = []
    for rep in range(args.repeat):
        for method in ("feast", "own"):
            out = OUT / "training-join" / f"{method}-{rep}"
            measured = run_measured([sys.executable, "-m", "benchmarks.training_join", "--lake", str(lake),
                                     "--start", days[0], "--end", days[-1], "--method", method, "--out", str(out)])
            if measured.returncode != 0:
                raise SystemExit(f"{method} join failed:\n{measured.stderr[-3000:]}")
            job = json.loads(measured.stdout.strip().splitlines()[-1])
            runs.append({**job, "repeat": rep, "process_seconds": round(measured.seconds, 1),
                         "peak_rss_mb": round(measured.peak_rss_mb)})
            print(f"{method:<6}{job['examples']:>12,} examples {job['seconds']:>8.1f}s {measured.peak_rss_mb:>9.0f} MB"
                  f"  {job['content_hash'][:12]}", flush=True)
    shutil.rmtree(OUT / "training-join", ignore_errors=True)
    summary = {method: {"median_seconds": round(statistics.median(r["seconds"] for r in runs if r["method"] == method), 1),
                        "median_peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in runs
                                                                      if r["method"] == method))}
               for method in ("feast", "own")}
    summary["ratio_feast_over_own"] = round(summary["feast"]["median_seconds"] / summary["own"]["median_seconds"], 2)
    summary["identical"] = len({r["content_hash"] for r in runs}) == 1
    print(json.dumps(summary), flush=True)
    return {"generated": gen, "days": days, "runs": runs, "summary": summary}


def _evaluate_measured(tastegraph: str, lake: Path, config: list[str], env: dict) -> dict:
    """`tastegraph evaluate` in its own process: seconds, peak memory, step seconds, each
    method's training seconds and the test split's headline figures."""
    from deltalake import DeltaTable

    holdout = env.get("TASTEGRAPH_EVAL_HOLDOUT", "latest")
    evaluated = run_measured([tastegraph, "evaluate", "--lake", str(lake), *config], env=env)
    if evaluated.returncode != 0:
        raise SystemExit(f"evaluate ({holdout} holdout) failed:\n{evaluated.stderr[-3000:]}")
    print(f"protocol B holdout: {holdout}", flush=True)
    print(evaluated.stdout[evaluated.stdout.index("method"):], flush=True)
    print(f"evaluate {evaluated.seconds:.1f}s {evaluated.peak_rss_mb:.0f} MB", flush=True)
    results = DeltaTable(str(lake / "gold" / "eval_results_v1")).to_pyarrow_table().to_pylist()
    headline = {f"{r['protocol']} {r['slice']} {r['metric']}@{r['k']} {r['method']}": r["value"] for r in results
                if r["split"] == "test" and r["k"] in (10, 20) and r["metric"] in ("recall", "ndcg", "hr", "coverage",
                                                                                   "mean_popularity")}
    train_seconds = {r["method"]: r["train_seconds"] for r in results if r["split"] == "test"}
    evaluate_run = max((r for r in DeltaTable(str(lake / "ops" / "pipeline_runs")).to_pyarrow_table().to_pylist()
                        if r["stage"] == "evaluate"), key=lambda r: r["started_at"])  # this run's
    return {"holdout": holdout, "seconds": round(evaluated.seconds, 1), "peak_rss_mb": round(evaluated.peak_rss_mb),
            "steps": json.loads(evaluate_run["details"] or "{}").get("step_seconds"),
            "method_train_seconds": train_seconds, "results": headline}


def bench_movielens(args) -> dict:
    import re

    from deltalake import DeltaTable

    if not Path(args.movielens).is_dir():
        raise SystemExit(f"--movielens {args.movielens}: no such folder: pass the folder of a MovieLens release")
    tastegraph = str(Path(sys.executable).parent / "tastegraph")
    raw, lake = OUT / "movielens-raw", OUT / "lake-movielens"
    shutil.rmtree(raw, ignore_errors=True)
    shutil.rmtree(lake, ignore_errors=True)
    imported = run_measured([tastegraph, "import", "movielens", "--src", args.movielens, "--out", str(raw)])
    if imported.returncode != 0:
        raise SystemExit(f"import failed:\n{imported.stderr[-3000:]}")
    first, last = re.search(r"\((\d{4}-\d{2}-\d{2}) \.\. (\d{4}-\d{2}-\d{2})", imported.stdout).groups()
    print(f"import {imported.seconds:.1f}s {imported.peak_rss_mb:.0f} MB: {first}..{last}", flush=True)
    lake.mkdir(parents=True)
    env = {**os.environ, "TASTEGRAPH_RAW_ROOT": str(raw.resolve())}
    env.pop("TASTEGRAPH_LAKE_ROOT", None)
    config = ["--config", str(MOVIELENS_CONFIG)]
    batch = run_measured([tastegraph, "run", "--lake", str(lake), "--start", first, "--end", last, "--one-batch",
                          *config], env=env)
    if batch.returncode != 0:
        raise SystemExit(f"one-batch run failed:\n{batch.stderr[-3000:]}")
    runs = DeltaTable(str(lake / "ops" / "pipeline_runs")).to_pyarrow_table().to_pylist()
    steps = {r["stage"]: {"seconds": round(r["seconds"], 1), "rows_in": r["rows_in"], "rows_out": r["rows_out"]}
             for r in sorted(runs, key=lambda r: r["started_at"])}
    for stage, step in steps.items():
        print(f"  {stage:<34}{step['seconds']:>8.1f}s {step['rows_in'] or 0:>12,} in {step['rows_out'] or 0:>12,} out")
    print(f"one-batch run {batch.seconds:.1f}s {batch.peak_rss_mb:.0f} MB", flush=True)
    # The literature's random holdout first, for the page beside the published figures; the
    # primary (latest) last, so the lake's results and report are the primary protocol's.
    random_holdout = _evaluate_measured(tastegraph, lake, config, {**env, "TASTEGRAPH_EVAL_HOLDOUT": "random"})
    shutil.copyfile(lake / "_reports" / "evaluation.html", lake / "_reports" / "evaluation-random-holdout.html")
    primary = _evaluate_measured(tastegraph, lake, config, {**env, "TASTEGRAPH_EVAL_HOLDOUT": "latest"})
    return {"range": [first, last], "evaluate": primary, "evaluate_random_holdout": random_holdout,
            "import": {"seconds": round(imported.seconds, 1), "peak_rss_mb": round(imported.peak_rss_mb)},
            "one_batch": {"seconds": round(batch.seconds, 1), "peak_rss_mb": round(batch.peak_rss_mb),
                          "stages": steps}}


def main(argv: list[str] | None = None) -> int:
    disable_telemetry()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", nargs="?", default="stages",
                        choices=["stages", "ingest", "graph", "flow", "embeddings", "training", "movielens", "kernels"])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--pins", type=int, default=50000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--events-per-day", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--noise", default=None, help="generator noise, as for `tastegraph generate`")
    parser.add_argument("--style-share", type=float, default=0.0, help="generator style share, as for `tastegraph generate`")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--movielens", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"
                                                   / "movielens-100k"), help="movielens: the release to import")
    parser.add_argument("--derived", choices=["all", "ends"], default="all",
                        help="graph: run pin_pin/related_pins/user_candidates every day, or first and last day")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if not 0.0 <= args.style_share < 1.0:
        parser.error(f"--style-share must be at least 0 and below 1, got {args.style_share}")

    OUT.mkdir(exist_ok=True)
    report = {"suite": args.suite, "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "args": vars(args)}
    suites = {"stages": bench_stages, "ingest": bench_ingest, "graph": bench_graph, "flow": bench_flow,
              "embeddings": bench_embeddings, "training": bench_training, "movielens": bench_movielens, "kernels": bench_kernels}
    report.update(suites[args.suite](args))
    path = OUT / f"{args.suite}-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    code = main()
    # The deltalake reader and pyarrow tear their native thread pools down at interpreter exit,
    # which now and then aborts the process after the results are written ("terminate called
    # without an active exception": delta-rs#2184, apache/arrow#34314; it happened once in two
    # MovieLens runs). Nothing is left to do, so the process ends here without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
