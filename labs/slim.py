"""Keep a finished run small: the bulky raw data a report never reads goes, and a manifest says what
went — the OA attachment store (`apps/oa.db.files`: document bodies and attachments, whose digests
stay in oa.db), the documents' contents in `apps/oa.db` (their rows, states, seals and events stay)
and the off-site copy (`offsite/pulled`, verified by digest at the far end, its digest in
results.json). `govnet lab run --keep-raw` keeps them. Labs write no packet captures: the NIDS
sensors read live and keep every alert."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

RAW = ("apps/oa.db.files", "offsite/pulled")
MANIFEST = "raw-removed.json"


def slim_run(run: Path) -> dict[str, Any]:
    """Remove the raw data of a finished run; write and return the manifest (path -> files, bytes)."""
    removed: dict[str, dict[str, int]] = {}
    for rel in RAW:
        path = run / rel
        if not path.exists():
            continue
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        removed[rel] = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    contents = _clear_contents(run / "apps" / "oa.db")
    if contents is not None:
        removed["apps/oa.db documents.content"] = contents
    doc = {
        "removed": removed,
        "why": "raw data no report reads; 'govnet lab run --keep-raw' keeps it (labs/slim.py)",
    }
    if removed:
        (run / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n")
    return doc


def _clear_contents(db: Path) -> dict[str, int] | None:
    """Empty the OA documents' contents and compact the database; None when there is nothing to do
    (no database, no such table, contents already empty) or it cannot be opened."""
    if not db.exists():
        return None
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(db)) as con:
        n, size = con.execute(
            "SELECT count(*), coalesce(sum(length(content)), 0) FROM documents WHERE length(content) > 0"
        ).fetchone()
        if not n:
            return None
        with con:
            con.execute("UPDATE documents SET content = '' WHERE length(content) > 0")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
        return {"documents": int(n), "bytes": int(size)}
    return None
