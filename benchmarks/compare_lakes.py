"""Compare every Delta table of two lakes with an independent reader (deltalake + pyarrow),
row by row, ignoring run times and ids and the lake's own path in source file names.

    .venv/bin/python benchmarks/compare_lakes.py OLD_LAKE NEW_LAKE
"""
import sys
from pathlib import Path

from deltalake import DeltaTable

old, new = Path(sys.argv[1]), Path(sys.argv[2])
VOLATILE = {"ingested_at", "validated_at", "started_at", "seconds", "run_id"}
RENAMED = {"ingest_dt": "ds", "dt": "ds"}  # the run date, renamed ds in every zone
SKIP_ZONES = {"ops"}


def tables(root):
    return sorted(p.parent.relative_to(root).as_posix() for p in root.rglob("_delta_log") if p.is_dir())


def content(path, root):
    t = DeltaTable(str(path)).to_pyarrow_table()
    t = t.rename_columns([RENAMED.get(c, c) for c in t.column_names])
    keep = sorted(c for c in t.column_names if c not in VOLATILE)
    rows = t.select(keep).to_pylist()
    prefix = str(root.resolve())
    for row in rows:  # raw file paths name the lake they were read in
        if isinstance(row.get("source_file"), str):
            row["source_file"] = row["source_file"].replace(prefix, "<lake>")
    return keep, sorted(map(repr, rows))


ok = True
for name in sorted(set(tables(old)) | set(tables(new))):
    if name.split("/")[0] in SKIP_ZONES:
        continue
    if not (old / name).exists() or not (new / name).exists():
        print(f"{name:<28} only in {'old' if (old / name).exists() else 'new'}")
        ok = False
        continue
    cols_old, rows_old = content(old / name, old)
    cols_new, rows_new = content(new / name, new)
    same = cols_old == cols_new and rows_old == rows_new
    ok &= same
    detail = "" if same else (
        f" columns old-only {sorted(set(cols_old) - set(cols_new))} new-only {sorted(set(cols_new) - set(cols_old))};"
        f" rows {len(rows_old)} vs {len(rows_new)}, differing {len(set(rows_old) ^ set(rows_new))}")
    print(f"{name:<28} {len(rows_new):>8} rows  {'identical' if same else 'DIFFERENT'}{detail}")
print("ALL IDENTICAL" if ok else "DIFFERENCES FOUND")
