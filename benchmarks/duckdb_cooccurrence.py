"""Single-machine reference: DuckDB computes pin-pin co-save from the same saved_to edges.

Reads the Delta table's live parquet files (file list from the `deltalake` reader), caps each
board at CAP pins, self-joins on board, counts shared boards per pair, cosine-normalises and
keeps each pin's top K. Prints JSON: pairs, seconds.
    python -m benchmarks.duckdb_cooccurrence GRAPH_EDGES_PATH CAP TOP_K
"""
from __future__ import annotations

import json
import os
import sys
import time

import duckdb
from deltalake import DeltaTable


def main(edges_path: str, cap: int, top_k: int) -> None:
    t0 = time.perf_counter()
    files = [f for f in DeltaTable(edges_path).file_uris() if "edge_type=saved_to" in f]
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    file_list = ", ".join(f"'{f}'" for f in files)
    pairs = con.execute(f"""
        WITH links AS (
            SELECT src_id AS pin_id, dst_id AS board_id FROM read_parquet([{file_list}])
        ),
        capped AS (
            SELECT * FROM (
                SELECT *, row_number() OVER (PARTITION BY board_id ORDER BY hash(board_id, pin_id), pin_id) AS n
                FROM links) WHERE n <= {cap}
        ),
        norms AS (SELECT pin_id, count(*)::DOUBLE AS norm FROM capped GROUP BY pin_id),
        common AS (
            SELECT a.pin_id, b.pin_id AS other_pin_id, count(*)::DOUBLE AS c
            FROM capped a JOIN capped b ON a.board_id = b.board_id AND a.pin_id <> b.pin_id
            GROUP BY 1, 2
        ),
        scored AS (
            SELECT c.pin_id, c.other_pin_id, c.c / sqrt(na.norm * nb.norm) AS score
            FROM common c JOIN norms na ON na.pin_id = c.pin_id JOIN norms nb ON nb.pin_id = c.other_pin_id
        )
        SELECT count(*) FROM (
            SELECT *, row_number() OVER (PARTITION BY pin_id ORDER BY score DESC, other_pin_id) AS rank FROM scored
        ) WHERE rank <= {top_k}
    """).fetchone()[0]
    print(json.dumps({"pairs_kept": pairs, "seconds": round(time.perf_counter() - t0, 2)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    # As in benchmarks/run.py: the deltalake reader's native teardown at exit can abort the
    # process after the figures are printed (delta-rs#2184), so it ends here.
    sys.stdout.flush()
    os._exit(0)
