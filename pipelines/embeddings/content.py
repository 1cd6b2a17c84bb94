"""Content embeddings (stage content_embeddings, table pin_content_embeddings_v1), computed by
the Apache Beam RunInference pipeline of `beam_inference.py`.

A pin's document is its title, description, interest annotations, domain, and the names of
the (public) boards it was saved to, strongest links first. The stage:
1. builds every pin's document from the pinned versions of silver pins, boards and the graph;
2. reuses or retrains the encoder (cadence: `embedding_retrain_days`), and the graph aligner
   whenever the encoder or the graph-embedding model changed (it is trained on the pins that
   have a document and either a graph embedding or engagement, and the users' engagement with
   them: `encoders.train_aligner`);
3. encodes, in Beam, only the pins whose document or models changed since their row was
   written: new and edited pins every day, every pin after a retrain;
4. merges the result into the table. A pin whose document is empty gets a row without vectors
   and a note that says why.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, io, scratch
from pipelines.core.stages import StageContext, StageOutput
from pipelines.core.transforms import top_n
from pipelines.embeddings import encoders, models, vectors
from pipelines.graph.shared import edges_as_of, saved_to_links

ENCODER_FAMILY = "content_encoder"
ALIGNER_FAMILY = "graph_aligner"
BOARDS_PER_PIN = 20
NO_CONTENT = "no title, description, interests, domain or boards: nothing to encode"
ENCODED = "pin_id string, content_embedding array<float>, aligned_embedding array<float>"
NO_GRAPH = "no graph embeddings to align to yet: content embedding only"


def pin_documents(pins: DataFrame, boards: DataFrame, edges: DataFrame) -> DataFrame:
    """(pin_id, document, content_hash) for every pin."""
    named = saved_to_links(edges).join(boards.select("board_id", "name"), on="board_id", how="inner")
    strongest = top_n(named.where(F.col("name").isNotNull()), "pin_id", [F.desc("weight"), "board_id"], BOARDS_PER_PIN)
    board_names = strongest.groupBy("pin_id").agg(F.array_sort(F.collect_list("name")).alias("board_names"))
    parts = F.array(F.col("title"), F.col("description"),
                    F.concat_ws(" ", F.transform("interests", lambda a: a["interest"])), F.col("domain"),
                    F.concat_ws(" ", "board_names"))
    document = F.array_join(F.filter(parts, lambda x: F.trim(x) != ""), " \n ")
    return pins.join(board_names, on="pin_id", how="left").select(
        "pin_id", document.alias("document"), F.sha2(document, 256).alias("content_hash"))


def _encoder_config(ctx: StageContext) -> dict:
    s = ctx.settings
    return {"dim": s.content_dim, "max_features": s.content_max_features, "seed": s.embedding_seed,
            "boards_per_pin": BOARDS_PER_PIN}


def _train_encoder(docs: DataFrame, ctx: StageContext):
    s = ctx.settings

    def fit(folder: Path) -> dict:
        corpus = [r["document"] for r in docs.where("document <> ''").orderBy("pin_id").select("document").collect()]
        model = encoders.train_encoder(corpus or ["empty"], s.content_dim, s.content_max_features, s.embedding_seed)
        encoders.save(model, folder / encoders.ENCODER_FILE)
        return {"documents": len(corpus), "dim": int(model.named_steps["svd"].n_components)}

    return models.reuse_or_train(s, ENCODER_FAMILY, ctx.ds, _encoder_config(ctx), fit, inputs=ctx.input_versions)


def _train_aligner(docs: DataFrame, graph: DataFrame, engagement: DataFrame, encoder: models.Model,
                   ctx: StageContext):
    """The graph aligner for this encoder and graph model (None when there is no graph model),
    trained on the pins that have a document and either a graph vector or engagement (see
    `encoders.train_aligner`), and the users' engagement with them."""
    graph_version = vectors.table_model_version(ctx, catalog.PIN_GRAPH_EMBEDDINGS)
    if graph_version is None:
        return None
    config = {"encoder": encoder.version, "graph": graph_version, "alpha": 1.0, "objective": "user profiles",
              "targets": "engaged pins", "epochs_max": encoders.ALIGN_EPOCHS_MAX, "tau": encoders.ALIGN_TAU,
              "seed": ctx.settings.embedding_seed}

    def fit(folder: Path) -> dict:
        graph_vectors = graph.select("pin_id", "embedding")
        wanted = graph_vectors.select("pin_id").unionByName(engagement.select("pin_id")).distinct()
        rows = (docs.where("document <> ''").join(wanted, on="pin_id", how="left_semi")
                .join(graph_vectors, on="pin_id", how="left").orderBy("pin_id")
                .select("pin_id", "document", "embedding").collect())
        if not any(r["embedding"] is not None for r in rows):  # no pin with a graph vector has a document
            return {"pins": 0, "target_pins": len(rows), "users": 0, "epochs": 0}
        content = encoders.encode(encoders.load(encoder.path / encoders.ENCODER_FILE), [r["document"] for r in rows])
        target, has_graph = encoders.graph_rows([r["embedding"] for r in rows])
        engaged = aligner_engagement(engagement, [r["pin_id"] for r in rows])
        aligner = encoders.train_aligner(content, target, engaged, ctx.settings.embedding_seed, has_graph=has_graph)
        encoders.save(aligner, folder / encoders.ALIGNER_FILE)
        return {"pins": int(has_graph.sum()), "target_pins": len(rows), "users": sum(1 for e in engaged if len(e)),
                "epochs": aligner.epochs}

    model, _ = models.reuse_or_train(ctx.settings, ALIGNER_FAMILY, ctx.ds, config, fit)
    return model if model.manifest.get("pins", 0) >= 2 else None


def aligner_engagement(engagement: DataFrame, pin_ids: list[str]) -> list[np.ndarray]:
    """Per user (by id), the positions in `pin_ids` of the pins they engaged (hides excluded)."""
    position = {p: i for i, p in enumerate(pin_ids)}
    by_user: dict[str, list[int]] = {}
    for r in engagement.select("user_id", "pin_id").orderBy("user_id", "pin_id").toLocalIterator():
        if r["pin_id"] in position:
            by_user.setdefault(r["user_id"], []).append(position[r["pin_id"]])
    return [np.asarray(by_user[u], dtype=np.int64) for u in sorted(by_user)]


def changed_documents(docs: DataFrame, current: DataFrame, encoder_version: str, aligner_version: str) -> DataFrame:
    """Documents whose content or models differ from the row the table holds for the pin."""
    same = (F.col("c.content_hash") == F.col("d.content_hash")) & (F.col("c.encoder_version") == F.lit(encoder_version)) \
        & (F.col("c.aligner_version") == F.lit(aligner_version))
    return docs.alias("d").join(current.alias("c"), on=(F.col("d.pin_id") == F.col("c.pin_id")) & same,
                                how="left_anti")


def run(ctx: StageContext) -> StageOutput:
    from pipelines.embeddings import beam_inference  # Beam is imported only by the stage that runs it

    s = ctx.settings
    spark = ctx.spark
    docs = pin_documents(ctx.read(catalog.SILVER_PINS), ctx.read(catalog.SILVER_BOARDS),
                         ctx.read(catalog.GRAPH_EDGES)).persist()
    ctx.laps("documents")
    encoder, trained = _train_encoder(docs, ctx)
    aligner = _train_aligner(docs, ctx.read_or_empty(catalog.PIN_GRAPH_EMBEDDINGS),
                             vectors.engagement(edges_as_of(ctx)), encoder, ctx)
    aligner_version = aligner.version if aligner else "none"
    ctx.laps("models")
    todo = changed_documents(docs, ctx.read_or_empty(catalog.PIN_CONTENT_EMBEDDINGS), encoder.version,
                             aligner_version).persist()
    try:
        with scratch.folder(s.lake_root / "_staging" / "content_embeddings") as staging:
            todo.where("document <> ''").select("pin_id", "document").write.parquet(str(staging / "documents"))
            to_encode = spark.read.parquet(str(staging / "documents")).count()
            if to_encode:
                beam_inference.encode_pins(staging / "documents", staging / "out", encoder.path,
                                           aligner.path if aligner else None, s.beam_runner, s.beam_options)
            ctx.laps("beam")
            encoded = (spark.read.parquet(str(staging / "out")) if to_encode
                       else spark.createDataFrame([], ENCODED))
            rows = todo.join(encoded, on="pin_id", how="left").select(
                "pin_id", "content_hash", vectors.as_floats(F.col("content_embedding")).alias("content_embedding"),
                vectors.as_floats(F.col("aligned_embedding")).alias("aligned_embedding"),
                F.lit(encoder.version).alias("encoder_version"), F.lit(aligner_version).alias("aligner_version"),
                F.when(F.col("document") == "", F.lit(NO_CONTENT)).when(F.lit(aligner is None), F.lit(NO_GRAPH))
                .alias("note"), F.lit(ctx.ds).cast("date").alias("encoded_on"))
            written = io.merge(rows, catalog.PIN_CONTENT_EMBEDDINGS, s,
                               {c: F.col(f"s.{c}") for c in catalog.PIN_CONTENT_EMBEDDINGS.columns})
            ctx.laps("write")
    finally:
        todo.unpersist()
    pins = docs.count()
    docs.unpersist()
    return StageOutput(rows_in=pins, rows_out=written,
                       details={"encoded": to_encode, "encoder_version": encoder.version, "encoder_trained": trained,
                                "aligner_version": aligner_version})
