"""The node table and the picture of a model (topology.draw, topology.layout): every node once, sorted;
pictures in both formats with every label inside, boxes at disjoint angles, failed links marked,
deterministic SVG; bad names and paths refused with a UsageError."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from govnet.errors import UsageError
from topology import Network, load_model
from topology.draw import (
    draw_network,
    find_links,
    network_figure,
    node_table,
    render_node_table,
    shown_texts,
)
from topology.layout import GAP_DEG, layout
from topology.nodetable import HEADERS, KIND_ORDER, natural_key

MODELS = ["small", "weihai"]
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module", params=MODELS)
def net(request: pytest.FixtureRequest) -> Network:
    return load_model(request.param)


def test_table_has_every_node_once_sorted_by_kind_then_name(net: Network) -> None:
    rows = node_table(net)
    assert sorted(r.name for r in rows) == sorted(n.name for n in net.nodes)
    keys = [(KIND_ORDER.index(r.kind), natural_key(r.name)) for r in rows]
    assert keys == sorted(keys)
    text = render_node_table(rows)
    lines = text.splitlines()
    assert lines[0].split("  ")[0] == "name" and all(h in lines[0] for h in HEADERS)
    starts = [line.split()[0] for line in lines[2:] if line and not line[0].isspace()]
    assert starts == [r.name for r in rows]  # one first line per node; continuation lines are indented
    assert "None" not in text and "{" not in text and "(" not in text.replace("(Mbit/s to peer)", "")


def test_table_columns_of_a_firewall_and_a_host() -> None:
    net = load_model("small")
    rows = {r.name: r for r in node_table(net)}
    fw = rows["fw-inner"]
    assert fw.kind == "firewall" and fw.site == "info-centre"
    assert set(fw.vlans) == {"servers", "management"}
    assert "10.30.0.1/24" in fw.addresses
    line = next(x for x in render_node_table([fw]).splitlines() if x.startswith("fw-inner"))
    assert "2000 to info-centre-management" in line
    assert "1000 to core1×2" in render_node_table([fw])  # a bundle's members counted once
    pc = rows["bureau-finance-pc1"]
    assert (pc.zone, pc.vlans, pc.addresses) == ("office", ("office",), ("10.10.1.11/24",))
    assert rows["fw-b"].vlans == ("dmz",)  # every member of the pair is cabled to the DMZ


def test_table_filter_by_kind(net: Network) -> None:
    rows = node_table(net, ["firewall"])
    assert rows and {r.kind for r in rows} == {"firewall"}
    assert len(rows) == len(net.by_kind("firewall"))


def test_table_is_readable_for_the_reference_model() -> None:
    net = load_model("weihai")
    assert len(net.nodes) > 70
    lines = render_node_table(node_table(net)).splitlines()
    header = lines[0]
    cols = [header.index(h) for h in HEADERS]
    for line in lines[2:]:  # every column starts where its header does
        for start in cols[1:]:
            assert len(line) < start or line[start - 2 : start] == "  ", line
    assert max(len(x) for x in lines) < 200


def test_find_links_accepts_names_bundles_either_order_and_pairs() -> None:
    net = load_model("small")
    assert [lk.name for lk in find_links(net, "core1--core2")] == ["core1--core2"]
    assert [lk.name for lk in find_links(net, "core2--core1")] == ["core1--core2"]
    assert len(find_links(net, "fw-inner--core1")) == 2
    assert [lk.name for lk in find_links(net, "core1--fw-inner#2")] == ["fw-inner--core1#2"]
    assert len(find_links(net, ("core1", "fw-inner"))) == 2
    assert find_links(net, "core1--core9") == [] and find_links(net, "core1") == []


def test_layout_boxes_take_disjoint_angles_clear_of_the_exit(net: Network) -> None:
    lay = layout(net)
    slots = sorted(e.slot for e in lay.elements.values() if e.radial)
    assert slots
    for (_lo1, hi1), (lo2, _hi2) in itertools.pairwise(slots):
        assert hi1 <= lo2 + 1e-9
    for lo, hi in slots:
        assert hi - lo <= 360
        for turn in (-360, 0):  # the opening towards the exit is free of boxes
            assert hi <= 90 - GAP_DEG / 2 + turn + 1e-9 or lo >= 90 + GAP_DEG / 2 + turn - 1e-9
    hosts = {n.name for n in net.nodes if n.is_host}
    drawn = {e.key for e in lay.elements.values()}
    assert not hosts & drawn  # hosts are counted in boxes, not drawn one by one
    assert all(lay.element_of[h].startswith("lans:") for h in hosts)


def _overlap(a: object, b: object) -> bool:
    return bool(a.x0 < b.x1 - 1 and b.x0 < a.x1 - 1 and a.y0 < b.y1 - 1 and b.y0 < a.y1 - 1)  # type: ignore[attr-defined]


def test_every_label_lies_inside_the_figure_and_flat_labels_do_not_overlap(net: Network) -> None:
    ring = [lk.name for lk in net.links if lk.kind == "ring"]
    fig = network_figure(net, loads={ring[0]: 0.9, ring[1]: 0.2}, failed=[ring[-1]], title="t")
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = fig.bbox
    texts = shown_texts(fig)
    assert len(texts) > 10
    for t in texts:
        bb = t.get_window_extent(renderer)
        assert frame.x0 - 0.5 <= bb.x0 and bb.x1 <= frame.x1 + 0.5, t.get_text()
        assert frame.y0 - 0.5 <= bb.y0 and bb.y1 <= frame.y1 + 0.5, t.get_text()
    flat = [t for t in fig.axes[0].texts if t.get_rotation() == 0]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in flat]
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        assert not _overlap(a, b), (ta, tb)


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_draw_writes_both_formats(net: Network, suffix: str, tmp_path: Path) -> None:
    out = draw_network(net, tmp_path / f"{net.name}{suffix}")
    data = out.read_bytes()
    assert len(data) > 1000
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        root = ET.fromstring(data)
        assert root.tag == f"{SVG_NS}svg"
        words = {"".join(t.itertext()).strip() for t in root.iter(f"{SVG_NS}text")}
        for core in net.by_kind("core"):
            assert core.name in words
        assert not any("failed-" in (g.get("id") or "") for g in root.iter(f"{SVG_NS}g"))


def test_failed_link_is_marked_and_svg_is_deterministic(net: Network, tmp_path: Path) -> None:
    ring = next(lk for lk in net.links if lk.kind == "ring")
    access = next(lk for lk in net.links if lk.kind == "access")  # hidden inside a LAN box
    loads = {(lk.a, lk.b): i / len(net.links) for i, lk in enumerate(net.links)}
    one = draw_network(net, tmp_path / "a.svg", failed=[ring.name, access.name], loads=loads)
    two = draw_network(net, tmp_path / "b.svg", failed=[ring.name, access.name], loads=loads)
    assert one.read_bytes() == two.read_bytes()
    text = one.read_text()
    root = ET.fromstring(text)
    ids = {g.get("id") for g in root.iter(f"{SVG_NS}g")}
    assert f"failed-{ring.name}" in ids
    words = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG_NS}text"))
    assert "failed link" in words and "(1 cable inside failed)" in words
    assert "utilisation (grey: no value)" in words  # the colour bar
    assert "<dc:date>" not in text


def test_bad_names_and_paths_are_refused(tmp_path: Path) -> None:
    net = load_model("small")
    with pytest.raises(UsageError, match=r"unknown picture format \.pdf.*\.svg or \.png"):
        draw_network(net, tmp_path / "x.pdf")
    with pytest.raises(UsageError, match="core1--core9: no such link in model small"):
        draw_network(net, tmp_path / "x.svg", failed=["core1--core9"])
    with pytest.raises(UsageError, match="nope: no such link"):
        draw_network(net, tmp_path / "x.svg", loads={"nope": 0.5})
    with pytest.raises(UsageError, match="does not exist"):
        draw_network(net, tmp_path / "missing" / "x.svg")
    with pytest.raises(UsageError, match="is a directory"):
        draw_network(net, tmp_path / "dir.svg" if (tmp_path / "dir.svg").mkdir() is None else tmp_path)
    assert not list(tmp_path.glob("x.*"))


def test_unwritable_place_is_refused_and_missing_loads_are_grey(tmp_path: Path) -> None:
    net = load_model("small")
    with pytest.raises(UsageError, match="cannot write"):  # root passes os.access, then the write fails
        draw_network(net, Path("/proc/govnet-test.svg"))
    out = draw_network(net, tmp_path / "nan.svg", loads={"core1--core2": float("nan"), "core2--core3": 2.0})
    assert out.stat().st_size > 1000
