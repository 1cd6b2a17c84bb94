"""Single-machine reference: DuckDB reads one day of raw event files and deduplicates by event_id.

Benchmark-only (DuckDB is not used by the pipeline). Prints JSON: lines read, unique events, seconds.
    python -m benchmarks.duckdb_ingest RAW_DIR DS OUT_PARQUET
"""
from __future__ import annotations

import json
import sys
import time

import duckdb


def main(raw_dir: str, ds: str, out: str) -> None:
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    files = f"{raw_dir}/events/dt={ds}/*.jsonl.gz"
    # Read every line as text (like the Spark job), parse what parses, keep the first delivery.
    con.execute(f"""
        CREATE TEMP TABLE lines AS
        SELECT line, filename FROM read_csv('{files}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='',
                                             escape='', header=false, filename=true, ignore_errors=true,
                                             max_line_size=100000000)
    """)
    read = con.execute("SELECT count(*) FROM lines").fetchone()[0]
    con.execute(f"""
        COPY (
          SELECT DISTINCT ON (event_id) *
          FROM (
            SELECT try_cast(json_extract_string(line, '$.event_id') AS VARCHAR) AS event_id,
                   json_extract_string(line, '$.event_type') AS event_type,
                   try_cast(json_extract_string(line, '$.event_time') AS TIMESTAMP) AS event_time,
                   json_extract_string(line, '$.user_id') AS user_id,
                   json_extract_string(line, '$.pin_id') AS pin_id,
                   json_extract_string(line, '$.board_id') AS board_id
            FROM lines WHERE json_valid(line)
          )
          WHERE event_id IS NOT NULL AND user_id IS NOT NULL AND event_time IS NOT NULL
          ORDER BY event_id
        ) TO '{out}' (FORMAT parquet)
    """)
    unique = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    print(json.dumps({"lines_read": read, "unique_events": unique, "seconds": round(time.perf_counter() - t0, 2)}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
