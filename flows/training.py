"""Training-set builds and exact rebuilds: labelled examples from Delta, the features of a Feast
feature service joined as of each example (Feast's point-in-time join on the Spark offline
store), a manifest row with the lineage, and optionally a frozen gold set.

Every input is pinned: the Delta version of the examples and of each feature view's table is
taken once at the start, and Feast reads its sources at exactly those versions (Delta time
travel: `features.definitions.declarations(settings, versions)`). A rebuild reads the recorded
versions again, so it gives the same rows after later days have changed the tables.
"""
from __future__ import annotations

import time

from pyspark.sql import functions as F

from expectations import gate
from flows import serving
from flows.daily import is_transient
from pipelines.core import catalog, io
from pipelines.core.runs import record_validation
from pipelines.core.settings import Settings
from pipelines.core.spark import get_spark
from pipelines.training import sets
from pipelines.training.sets import Report, TrainingSetError, TrainingSetSpec


def _committed(write, attempts: int = 4):
    """Run a Delta write, again after a concurrent writer's conflict: two builds of one training
    set write the same rows (same id, same inputs), so whichever commits last changes nothing."""
    for attempt in range(attempts):
        try:
            return write()
        except Exception as exc:  # noqa: BLE001 - only Delta's conflicts are retried
            if attempt + 1 == attempts or not is_transient(exc):
                raise
            time.sleep(1 + attempt)


def pinned_versions(settings: Settings, feature_service: str) -> dict[str, int]:
    """The current Delta version of the examples and of every table behind the service's views."""
    spark = get_spark(settings)
    tables = [catalog.TRAINING_EXAMPLES, *serving.service_tables(settings, feature_service)]
    found = {t.name: io.table_version(spark, t, settings) for t in tables}
    missing = sorted(name for name, v in found.items() if v is None)
    if missing:
        raise TrainingSetError(f"no table {', '.join(missing)} under {settings.lake_root}: run the daily flow "
                               f"(`tastegraph run`) for the training range first")
    return found


def _joined(settings: Settings, spec: TrainingSetSpec, versions: dict[str, int]):
    spark = get_spark(settings)
    examples = io.read_table(spark, catalog.TRAINING_EXAMPLES, settings,
                             version=versions[catalog.TRAINING_EXAMPLES.name])
    entity = sets.entity_rows(examples, spec).persist()
    if not entity.limit(1).count():
        entity.unpersist()
        raise TrainingSetError(f"no labelled examples between {spec.start} and {spec.end} in "
                               f"{catalog.TRAINING_EXAMPLES.path(settings)}: run the daily flow for those days")
    retrieved = serving.historical_features(settings, entity, spec.feature_service, versions)
    return entity, retrieved


def _gate(settings: Settings, joined, ts_id: str, spec: TrainingSetSpec, versions: dict[str, int]) -> None:
    """The training set's suite, before it is written (recorded in ops.validation_results)."""
    table = catalog.TRAINING_SETS
    results = gate.validate_all(settings, {table.name: (f"{table.name}_v1", joined)}, spec.end.isoformat())
    record_validation(get_spark(settings), settings, ts_id, spec.end.isoformat(), results, versions)
    gate.raise_if_failed(results)


def _finish(settings: Settings, spec: TrainingSetSpec, versions: dict[str, int], entity, retrieved,
            ts_id: str) -> tuple[Report, object]:
    joined = retrieved.frame.withColumn("training_set_id", F.lit(ts_id)).persist()
    _gate(settings, joined, ts_id, spec, versions)
    rep = sets.report(joined, ts_id, catalog.TRAINING_SETS.path(settings), retrieved.views)
    rep.input_versions, rep.feature_refs, rep.registry_version = versions, retrieved.refs, retrieved.registry_version
    entity.unpersist()
    return rep, joined


def build(settings: Settings, start, end, feature_service: str | None = None, gold: str | None = None) -> Report:
    """Build (or find again: same inputs, same id) the training set of start..end."""
    spec = sets.spec_of(settings, start, end, feature_service)
    spec.check()
    spark = get_spark(settings)
    versions = pinned_versions(settings, spec.feature_service)
    entity, retrieved = _joined(settings, spec, versions)
    ts_id = sets.training_set_id(spec, retrieved.refs, versions)
    rep, joined = _finish(settings, spec, versions, entity, retrieved, ts_id)
    _committed(lambda: sets.write_training_set(joined, ts_id, settings))
    _committed(lambda: sets.record_manifest(spark, settings, spec, rep))
    if gold:
        _committed(lambda: sets.freeze_gold_set(spark, settings, sets.read_training_set(spark, settings, ts_id), gold))
    joined.unpersist()
    return rep


def rebuild(settings: Settings, ts_id: str) -> Report:
    """Rebuild a recorded training set from the Delta versions in its manifest; it is written
    again only when its content hash equals the recorded one."""
    spark = get_spark(settings)
    recorded = sets.manifest(spark, settings, ts_id)
    spec = TrainingSetSpec.from_json(recorded["config"])
    versions = {k: int(v) for k, v in recorded["input_versions"].items()}
    entity, retrieved = _joined(settings, spec, versions)
    rep, joined = _finish(settings, spec, versions, entity, retrieved, ts_id)
    if rep.content_hash != recorded["content_hash"]:
        joined.unpersist()
        raise TrainingSetError(
            f"the rebuild of {ts_id} gives content hash {rep.content_hash[:16]}, not the recorded "
            f"{recorded['content_hash'][:16]}: an input version it needs may have been vacuumed; nothing was written")
    _committed(lambda: sets.write_training_set(joined, ts_id, settings))
    joined.unpersist()
    return rep


def stored_hash(settings: Settings, ts_id: str) -> str:
    """The content hash of the training set as stored in training_sets_v1 (its own columns:
    the table also holds the columns of other feature services)."""
    spark = get_spark(settings)
    refs = sets.manifest(spark, settings, ts_id)["feature_refs"]
    columns = [*sets.EXAMPLE_COLUMNS, *(ref.replace(":", "__") for ref in refs)]
    return sets.content_hash(sets.read_training_set(spark, settings, ts_id).select(*columns))
