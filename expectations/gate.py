"""The gate: run a table's suite through a GX checkpoint (with Data Docs) and fail loudly."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import great_expectations as gx
from great_expectations.checkpoint import UpdateDataDocsAction
from pyspark.sql import DataFrame

from expectations.suites import SUITES
from pipelines.settings import Settings


class GateFailed(RuntimeError):
    """A table broke its suite: nothing downstream (materialization) may run."""

    def __init__(self, results: list["GateResult"]):
        self.results = results
        lines = [
            f"{r.table} (suite {r.suite}): failed {', '.join(r.failed)}" for r in results if not r.success
        ]
        super().__init__(
            "Great Expectations gate failed; nothing was materialized.\n  " + "\n  ".join(lines)
            + "\nSee the validation_results table and the Data Docs under the lake's _gx folder."
        )


@dataclass
class GateResult:
    table: str
    suite: str
    success: bool
    evaluated: int
    failed: list[str] = field(default_factory=list)


def _describe(result) -> str:
    config = result.expectation_config
    column = config.kwargs.get("column")
    return f"{config.type}({column})" if column else config.type


def context(settings: Settings):
    root = Path(settings.lake_root) / "_gx"
    root.mkdir(parents=True, exist_ok=True)
    return gx.get_context(mode="file", project_root_dir=str(root))


def validate(ctx, table: str, df: DataFrame) -> GateResult:
    """Validate one DataFrame against its table's suite with a checkpoint that updates Data Docs."""
    suite = ctx.suites.add_or_update(SUITES[table]())
    source = ctx.data_sources.add_or_update_spark(name="tastegraph_spark")
    asset = next((a for a in source.assets if a.name == table), None) or source.add_dataframe_asset(name=table)
    batch = next((b for b in asset.batch_definitions if b.name == "whole"), None) or (
        asset.add_batch_definition_whole_dataframe("whole")
    )
    definition = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{table}_validation", data=batch, suite=suite)
    )
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{table}_checkpoint",
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="update_data_docs")],
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": df})
    validation = next(iter(run.run_results.values()))
    failed = [_describe(r) for r in validation.results if not r.success]
    return GateResult(
        table=table, suite=suite.name, success=bool(validation.success), evaluated=len(validation.results), failed=failed
    )


def validate_all(settings: Settings, frames: dict[str, DataFrame]) -> list[GateResult]:
    """Validate every given table against its suite (results for all, failed or not)."""
    ctx = context(settings)
    return [validate(ctx, table, df) for table, df in frames.items()]


def raise_if_failed(results: list[GateResult]) -> None:
    """Raise GateFailed naming each failed table and expectation."""
    if not all(r.success for r in results):
        raise GateFailed(results)
