"""OA documents as HSM files: the govnet.filestore contract, in-process and over the file-server protocol.

The OA service (apps) and the HSM (backup_hsm) never import each other; the test wires them as a lab
would: OAService(files=HsmFiles(...)) in one process, or OAService(files=HttpFileStore(url)) against
`backup_hsm.files` serving the store.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.clock import ManualClock
from apps.oa import OAService
from apps.web import serve_in_thread
from backup_hsm import OPTICAL, TAPE, Hsm, VirtualClock
from backup_hsm.files import HsmFiles, make_server
from govnet.filestore import DirFileStore, FileStoreError, HttpFileStore, open_file_store
from govnet.metrics import validate

USERS = ("alice", "bob", "carol", "dave", "erin")
FLOW = [("submit", "alice"), ("review", "bob"), ("countersign", "carol"), ("sign", "dave"), ("seal", "alice")]
FLOW += [("send", "alice")]


class Oa:
    """An OA service on 127.0.0.1 with logged-in users."""

    def __init__(self, svc: OAService) -> None:
        self.svc = svc
        self.server = serve_in_thread(svc.app)
        self.tokens: dict[str, str] = {}
        for u in USERS:
            svc.add_user(u, f"pw-{u}")
            self.tokens[u] = self.call("POST", "/login", {"user": u, "password": f"pw-{u}"})[1]["token"]

    def call(self, method: str, path: str, body: object = None, user: str = "") -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=10)
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        try:
            conn.request(method, path, json.dumps(body).encode() if body is not None else b"", headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def document(self, content: str, attachment: bytes) -> int:
        status, doc = self.call(
            "POST",
            "/documents",
            {"title": "Budget", "content": content, "reviewer": "bob", "countersigner": "carol",
             "signer": "dave", "recipient": "erin"},
            "alice",
        )  # fmt: skip
        assert status == 201, doc
        blob = base64.b64encode(attachment).decode()
        body = {"name": "annex.txt", "data_b64": blob}
        assert self.call("POST", f"/documents/{doc['id']}/attachments", body, "alice")[0] == 201
        return int(doc["id"])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.svc.close()


@pytest.fixture
def hsm_files(tmp_path: Path) -> Iterator[HsmFiles]:
    files = HsmFiles(tmp_path / "hsm", clock=VirtualClock(1000.0))
    yield files


def test_oa_reads_go_through_the_hsm_heat_and_recall(tmp_path: Path, hsm_files: HsmFiles) -> None:
    oa = Oa(OAService(tmp_path / "oa.db", tmp_path / "att", b"k" * 32, ManualClock(), hsm_files))
    try:
        doc = oa.document("the budget draft", b"annex bytes " * 100)
        digest = oa.call("GET", f"/documents/{doc}", None, "alice")[1]["attachments"][0]["sha256"]
        body, annex = f"{doc}/body.txt", f"{doc}/{digest}"
        assert hsm_files.call(lambda h: sorted(r.name for r in h.catalog.all_files())) == sorted(
            [body, annex]
        )
        status, view = oa.call("GET", f"/documents/{doc}", None, "bob")
        assert status == 200 and view["content"] == "the budget draft"
        assert view["storage"]["tier"] == "disk" and not view["storage"]["recalled"]
        assert view["storage"]["latency_s"] < 0.1
        accesses = hsm_files.call(lambda h: h.stat(body).accesses)

        hsm_files.call(lambda h: h.migrate(body, TAPE))  # a cold document, moved down by the policy pass
        hsm_files.call(lambda h: h.migrate(annex, OPTICAL))
        status, view = oa.call("GET", f"/documents/{doc}", None, "bob")
        tape = hsm_files.hsm.library.tape
        assert status == 200 and view["content"] == "the budget draft"
        assert view["storage"]["tier"] == "tape" and view["storage"]["recalled"]
        assert view["storage"]["latency_s"] >= tape.robot_move_s + tape.load_s
        assert hsm_files.call(lambda h: (h.stat(body).tier, h.stat(body).accesses)) == (0, accesses + 1)
        status, got = oa.call("GET", f"/documents/{doc}/attachments/annex.txt", None, "erin")
        opt = hsm_files.hsm.library.optical
        assert status == 200 and base64.b64decode(got["data_b64"]) == b"annex bytes " * 100
        assert (
            got["storage"]["tier"] == "optical"
            and got["storage"]["latency_s"] >= opt.exchange_s + opt.mount_s
        )
        assert oa.call("GET", f"/documents/{doc}/attachments/nope", None, "erin")[0] == 404

        assert oa.call("PUT", f"/documents/{doc}", {"content": "second draft"}, "alice")[0] == 200
        assert hsm_files.call(lambda h: h.stat(body).version) == 2
        points = {p.tags["op"]: p for p in oa.svc.audit.points() if p.measurement == "app"}
        assert points["file-read"].fields["ops"] == 4
        assert points["file-recall"].fields["ops"] == 2
        assert points["file-recall"].fields["latency_s"] > opt.exchange_s
        hsm_points = {p.tags["tier"]: p.fields for p in hsm_files.points()}
        assert hsm_points["tape"]["recalls"] == 1 and hsm_points["optical"]["recalls"] == 1
        assert hsm_points["disk"]["files"] == 2
        assert hsm_files.call(lambda h: h.verify()) == []
    finally:
        oa.stop()


def test_oa_against_the_hsm_file_server_over_http(tmp_path: Path, hsm_files: HsmFiles) -> None:
    fileserver = make_server(hsm_files)
    threading.Thread(target=fileserver.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{fileserver.server_address[1]}"
    oa = Oa(OAService(tmp_path / "oa.db", tmp_path / "att", b"k" * 32, ManualClock(), open_file_store(url)))
    try:
        doc = oa.document("over the wire", b"\x00\x01binary" * 50)
        for action, user in FLOW:
            assert oa.call("POST", f"/documents/{doc}/{action}", {}, user)[0] == 200, action
        hsm_files.call(lambda h: h.migrate(f"{doc}/body.txt", TAPE))
        status, view = oa.call("GET", f"/documents/{doc}", None, "erin")
        assert status == 200 and view["storage"]["tier"] == "tape" and view["storage"]["latency_s"] >= 29
        assert oa.call("POST", f"/documents/{doc}/receive", {}, "erin")[0] == 200  # seal verified via HSM
        # the file server's copy is edited behind the OA's back: the next receipt would refuse it
        hsm_files.put(f"{doc}/body.txt", b"forged")
        status, view = oa.call("GET", f"/documents/{doc}", None, "erin")
        assert view["content"] == "forged"  # what the file server holds; sealing catches it on receive
    finally:
        oa.stop()
        fileserver.shutdown()
        fileserver.server_close()
        hsm_files.close()
    with Hsm.open(tmp_path / "hsm") as hsm:
        assert hsm.verify() == [] and hsm.stat(f"{doc}/body.txt").version == 2


def test_tampered_file_on_the_file_server_is_refused_on_receipt(tmp_path: Path) -> None:
    oa = Oa(OAService(tmp_path / "oa.db", tmp_path / "att", b"k" * 32, ManualClock()))
    try:
        doc = oa.document("original", b"x")
        for action, user in FLOW:
            assert oa.call("POST", f"/documents/{doc}/{action}", {}, user)[0] == 200, action
        (tmp_path / "att" / str(doc) / "body.txt").write_text("forged")
        status, body = oa.call("POST", f"/documents/{doc}/receive", {}, "erin")
        assert status == 422 and "file server changed after sealing" in body["error"]
        (tmp_path / "att" / str(doc) / "body.txt").unlink()  # as if a crash came right after create
        status, body = oa.call("GET", f"/documents/{doc}", None, "erin")
        assert status == 200 and body["content"] == "original" and body["storage"]["repaired"]
        (tmp_path / "att" / str(doc)).rename(tmp_path / "att" / "gone")
        status, body = oa.call("GET", f"/documents/{doc}/attachments/annex.txt", None, "erin")
        assert status == 503 and "missing on the file server" in body["error"]
    finally:
        oa.stop()


def test_file_store_contract_errors(tmp_path: Path, hsm_files: HsmFiles) -> None:
    local = DirFileStore(tmp_path / "d")
    for store in (local, hsm_files):
        with pytest.raises(FileStoreError) as err:
            store.get("nope")
        assert err.value.status == 404
        for bad in ("../x", "/abs", "a b", ""):
            with pytest.raises(FileStoreError) as err:
                store.put(bad, b"x")
            assert err.value.status == 400
        info = store.put("a/b.txt", b"hello")
        assert (info.size, store.get("a/b.txt").data) == (5, b"hello")
    with pytest.raises(FileStoreError) as err:
        HttpFileStore("http://127.0.0.1:9").get("a")  # nothing listens on the discard port
    assert err.value.status == 503 and "unreachable" in str(err.value)
    with pytest.raises(FileStoreError):
        HttpFileStore("ftp://x")
    assert all(validate(p) for p in hsm_files.points())
    hsm_files.close()


def test_file_server_down_refuses_the_document(tmp_path: Path) -> None:
    dead = HttpFileStore("http://127.0.0.1:9")  # nothing listens on the discard port
    oa = Oa(OAService(tmp_path / "oa.db", tmp_path / "att", b"k" * 32, ManualClock(), dead))
    try:
        body = {"title": "t", "content": "c", "reviewer": "bob", "countersigner": "carol", "signer": "dave"}
        status, reply = oa.call("POST", "/documents", {**body, "recipient": "erin"}, "alice")
        assert status == 503 and "unreachable" in reply["error"]
        assert oa.call("GET", "/todo", None, "alice")[1]["todo"] == []  # not half created
        actions = [e["action"] for e in oa.svc.audit.events("op")]
        assert actions == ["create", "create-failed"]
    finally:
        oa.stop()
