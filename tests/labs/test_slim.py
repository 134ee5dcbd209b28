"""A finished run is kept small: the raw data no report reads (OA attachment bodies, the off-site
copy) goes, a manifest says what went and how much; nothing else is touched; a run without raw
data gets no manifest. And the NIDS part never blocks the lab's reverse proxy when it runs."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from labs.parts.base import EventBus, LabContext
from labs.parts.nids import portal_proxies
from labs.slim import MANIFEST, slim_run
from topology import load_model


def test_raw_data_goes_and_the_manifest_says_what(tmp_path: Path) -> None:
    (tmp_path / "apps" / "oa.db.files" / "12").mkdir(parents=True)
    (tmp_path / "apps" / "oa.db.files" / "12" / "body.txt").write_bytes(b"x" * 1000)
    (tmp_path / "apps" / "oa.db.files" / "12" / "ab").mkdir()
    (tmp_path / "apps" / "oa.db.files" / "12" / "ab" / "f").write_bytes(b"y" * 24)
    (tmp_path / "apps" / "oa.db").write_bytes(b"db")
    (tmp_path / "offsite" / "pulled").mkdir(parents=True)
    (tmp_path / "offsite" / "pulled" / "lab-backup").write_bytes(b"z" * 5000)
    (tmp_path / "results.json").write_text("{}")
    doc = slim_run(tmp_path)
    assert doc["removed"] == {
        "apps/oa.db.files": {"files": 2, "bytes": 1024},
        "offsite/pulled": {"files": 1, "bytes": 5000},
    }
    assert json.loads((tmp_path / MANIFEST).read_text()) == doc
    assert not (tmp_path / "apps" / "oa.db.files").exists() and not (tmp_path / "offsite" / "pulled").exists()
    assert (tmp_path / "apps" / "oa.db").read_bytes() == b"db" and (tmp_path / "results.json").exists()
    assert slim_run(tmp_path)["removed"] == {}  # idempotent


def test_document_contents_go_their_rows_stay(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    with contextlib.closing(sqlite3.connect(tmp_path / "apps" / "oa.db")) as con, con:
        con.execute("CREATE TABLE documents (id INTEGER PRIMARY KEY, title TEXT, content TEXT, state TEXT)")
        con.executemany(
            "INSERT INTO documents (title, content, state) VALUES (?, ?, ?)",
            [("a", "x" * 300_000, "sealed"), ("b", "y" * 200_000, "draft"), ("c", "", "draft")],
        )
    before = (tmp_path / "apps" / "oa.db").stat().st_size
    doc = slim_run(tmp_path)
    assert doc["removed"] == {"apps/oa.db documents.content": {"documents": 2, "bytes": 500_000}}
    with contextlib.closing(sqlite3.connect(tmp_path / "apps" / "oa.db")) as con:
        rows = con.execute("SELECT title, content, state FROM documents ORDER BY id").fetchall()
    assert rows == [("a", "", "sealed"), ("b", "", "draft"), ("c", "", "draft")]
    assert (tmp_path / "apps" / "oa.db").stat().st_size < before / 10
    assert slim_run(tmp_path)["removed"] == {}


def test_a_run_without_raw_data_gets_no_manifest(tmp_path: Path) -> None:
    assert slim_run(tmp_path)["removed"] == {}
    assert not (tmp_path / MANIFEST).exists()


def test_the_portal_is_a_trusted_proxy_only_when_the_services_run(tmp_path: Path) -> None:
    net = load_model("small")

    def ctx(scenario: dict[str, object]) -> LabContext:
        return LabContext(None, net, tmp_path, scenario, EventBus(tmp_path / "e.json", print))  # type: ignore[arg-type]

    assert portal_proxies(ctx({"traffic": {}})) == ["10.50.0.11"]
    assert portal_proxies(ctx({})) == []
