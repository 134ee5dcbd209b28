"""The HSM store with real bytes: put/read, heat, recall in tape order, integrity alarms, full tiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from backup_hsm import (
    DISK,
    OPTICAL,
    TAPE,
    DiskArray,
    Hsm,
    IntegrityError,
    Library,
    TierFullError,
    VirtualClock,
)
from backup_hsm.store_media import sha256


@pytest.fixture
def store(tmp_path: Path) -> Hsm:
    hsm = Hsm.open(tmp_path / "hsm", clock=VirtualClock(0.0))
    for i in range(6):
        hsm.put(f"f{i}", f"payload {i} ".encode() * (50 + i))
        hsm.clock.advance(10)
    return hsm


def test_put_read_heat_and_versions(store: Hsm) -> None:
    before = store.stat("f1").heat_key
    data, latency = store.read("f1")
    assert data == b"payload 1 " * 51 and 0 < latency < 0.1
    assert store.stat("f1").heat_key > before and store.stat("f1").accesses == 2
    store.put("f1", b"second version")
    row = store.stat("f1")
    assert row.version == 2 and row.checksum == sha256(b"second version")
    assert store.read("f1")[0] == b"second version"
    assert store.verify() == []
    store.close()


def test_recall_from_tape_is_timed_and_batched_in_tape_order(store: Hsm) -> None:
    for i in range(6):
        store.migrate(f"f{i}", TAPE)
    assert {store.stat(f"f{i}").tier for i in range(6)} == {TAPE}
    mounts = store.tape.mounts
    lat = store.recall(["f5", "f2", "f0", "f4"])  # one cartridge: one mount, served in offset order
    assert store.tape.mounts == mounts + 1
    tape = store.library.tape
    assert lat["f0"] >= tape.robot_move_s + tape.load_s
    assert lat["f0"] < lat["f2"] < lat["f4"] < lat["f5"]
    assert {store.stat(n).tier for n in lat} == {DISK}
    data, latency = store.read("f1")  # on tape, recalled by the read itself
    assert data == b"payload 1 " * 51 and latency > 0 and store.stat("f1").tier == DISK
    assert store.verify() == []
    store.close()


def test_optical_recall_latency_is_tens_of_seconds(store: Hsm) -> None:
    store.migrate("f3", OPTICAL)
    data, latency = store.read("f3")
    opt = store.library.optical
    assert data == b"payload 3 " * 53
    assert opt.exchange_s + opt.mount_s <= latency < 60
    store.close()


def test_checksum_mismatch_restores_from_another_copy_and_alarms(store: Hsm) -> None:
    assert store.protect("offsite", TAPE) == 6
    store.migrate("f2", OPTICAL)
    copy = store.copies(store.stat("f2").id)[0]
    path = store.root / "optical" / copy.medium
    raw = bytearray(path.read_bytes())
    raw[copy.offset + 3] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert store.verify() != []
    data, _ = store.read("f2")
    assert data == b"payload 2 " * 52
    kinds = [a[1] for a in store.catalog.alarms()]
    assert kinds == ["checksum-mismatch", "restored-from-copy"]
    assert store.verify() == []
    store.close()


def test_no_good_copy_is_an_integrity_error(store: Hsm) -> None:
    row = store.stat("f4")
    (store.root / "disk" / store.copies(row.id)[0].medium).write_bytes(b"rot")
    with pytest.raises(IntegrityError, match="f4"):
        store.read("f4")
    store.close()


def test_full_tier_is_a_clear_error(tmp_path: Path) -> None:
    lib = Library(disk=DiskArray(capacity_bytes=1000))
    with Hsm.open(tmp_path / "h", library=lib) as hsm:
        hsm.put("a", b"x" * 600)
        with pytest.raises(TierFullError) as err:
            hsm.put("b", b"y" * 600)
        text = str(err.value)
        assert "tiers.disk.capacity" in text and "got 1000" in text and "raise" in text
        assert err.value.exit_code == 2
        assert [r.name for r in hsm.catalog.all_files()] == ["a"]
        hsm.migrate("a", OPTICAL)
        hsm.put("b", b"y" * 600)  # room again
        assert hsm.verify() == []


def test_store_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(Exception, match="not a directory"):
        Hsm.open(tmp_path / "f")


def test_medium_registered_before_its_first_write(store: Hsm) -> None:
    """A crash right after a new disc is registered, before any byte is written to it."""
    store._place(OPTICAL, "primary", 1, 1, 10)
    root = store.root
    store.close()
    with Hsm.open(root) as hsm:
        assert hsm.verify() == []
        hsm.migrate("f1", OPTICAL)
        assert hsm.verify() == [] and hsm.read("f1")[0] == b"payload 1 " * 51
