"""The Apache Beam batch-inference pipeline of the content embeddings.

Parquet of (pin_id, document) in, Parquet of (pin_id, content_embedding, aligned_embedding) out:
RunInference with the encoder, then RunInference with the graph aligner on its output, both
scikit-learn models loaded from their versioned joblib artifacts (`encoders.py`). The runner and
its options come from the settings (DirectRunner by default); the Spark stage around it
(`content.py`) exports the documents from a pinned Delta version of the pins and loads the
output into Delta through the I/O layer.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import pyarrow as pa

from pipelines.embeddings import encoders

# Beam's BigQuery client module logs a warning on the root logger when apitools is absent,
# which also installs a stderr handler on the root logger of the whole process
# (logging.basicConfig). Import Beam with the root logger quiet and handled.
_root, _level, _null = logging.getLogger(), logging.getLogger().level, logging.NullHandler()
_root.addHandler(_null)
_root.setLevel(logging.ERROR)
try:
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
    from apache_beam.ml.inference.sklearn_inference import ModelFileType, SklearnModelHandlerNumpy
    from apache_beam.options.pipeline_options import PipelineOptions
finally:
    _root.setLevel(_level)
    _root.removeHandler(_null)

OUTPUT_SCHEMA = pa.schema([("pin_id", pa.string()), ("content_embedding", pa.list_(pa.float32())),
                           ("aligned_embedding", pa.list_(pa.float32()))])
BATCH = {"min_batch_size": 256, "max_batch_size": 4096}


def options(runner: str, extra: Mapping[str, str]) -> PipelineOptions:
    flags = [f"--runner={runner}"] + [f"--{k}={v}" for k, v in sorted(extra.items())]
    return PipelineOptions(flags=flags)


def pipeline_runner(runner: str):
    """The runner object for a runner name, or the name itself for Beam to resolve.

    Beam 2.7x's DirectRunner first tries its Prism runner, whose binary it downloads from GitHub
    when the pipeline runs, and falls back to the in-process FnApiRunner when that fails. The
    platform never downloads at run time (and a machine that can reach GitHub would otherwise
    run a different engine), so DirectRunner here is the in-process runner it falls back to."""
    if runner.lower() in ("directrunner", "direct", "switchingdirectrunner"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        return FnApiRunner()
    return runner


def _floats(vector) -> list[float] | None:
    return None if vector is None else [float(x) for x in vector]


def _aligned_row(keyed) -> dict:
    pin_id, result = keyed
    return {"pin_id": pin_id, "content_embedding": _floats(result.example), "aligned_embedding": _floats(result.inference)}


def _content_row(keyed) -> dict:
    pin_id, content = keyed
    return {"pin_id": pin_id, "content_embedding": _floats(content), "aligned_embedding": None}


def _handler(model_file: Path, inference_fn) -> KeyedModelHandler:
    return KeyedModelHandler(SklearnModelHandlerNumpy(
        model_uri=str(model_file), model_file_type=ModelFileType.JOBLIB, inference_fn=inference_fn, **BATCH))


def encode_pins(documents: Path, out: Path, encoder_dir: Path, aligner_dir: Path | None,
                runner: str = "DirectRunner", extra_options: Mapping[str, str] | None = None) -> None:
    """Run the pipeline: documents (Parquet files under `documents`) -> `out/part-*.parquet`.
    Without an aligner (no graph model yet) the aligned embeddings are null."""
    with beam.Pipeline(runner=pipeline_runner(runner), options=options(runner, extra_options or {})) as p:
        content = (
            p
            | "Read documents" >> beam.io.ReadFromParquet(str(documents / "*.parquet"), columns=["pin_id", "document"])
            | "Key by pin" >> beam.Map(lambda r: (r["pin_id"], r["document"]))
            | "Encode content" >> RunInference(_handler(encoder_dir / encoders.ENCODER_FILE, encoders.encode))
            | "Content vector" >> beam.MapTuple(lambda pin_id, result: (pin_id, result.inference))
        )
        if aligner_dir is not None:
            rows = (content
                    | "Align to graph" >> RunInference(_handler(aligner_dir / encoders.ALIGNER_FILE, encoders.align))
                    | "Row" >> beam.Map(_aligned_row))
        else:
            rows = content | "Row" >> beam.Map(_content_row)
        _ = rows | "Write" >> beam.io.WriteToParquet(str(out / "part"), OUTPUT_SCHEMA, file_name_suffix=".parquet")
