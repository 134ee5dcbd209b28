"""Bad model files: every mistake is a ModelError naming the file, the field and a fix — never a traceback."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from govnet.errors import ModelError
from topology import load_model_text

Variant = Callable[[Callable[[dict[str, Any]], object]], str]
Build = Callable[[str, Variant], str]


def raw(text: str) -> Build:
    """The model is exactly this text."""
    return lambda _small, _variant: text


def replaced(old: str, new: str) -> Build:
    """small.yaml with one piece of text replaced."""

    def build(small: str, _variant: Variant) -> str:
        assert old in small, f"{old!r} is not in small.yaml any more"
        return small.replace(old, new, 1)

    return build


def mutated(fn: Callable[[dict[str, Any]], object]) -> Build:
    """small.yaml loaded, changed by fn, dumped."""
    return lambda _small, variant: variant(fn)


def _second_site_same_gateway(d: dict[str, Any]) -> None:
    site = copy.deepcopy(d["sites"][0])
    site["name"] = "annex"
    site["lans"] = [{"vlan": "office", "bw_mbps": 100, "hosts": ["annex-pc1"]}]
    d["sites"].append(site)


# (build, path, fragment of the message, fragment of str(problem) -- usually of the fix)
CASES = [
    pytest.param(
        raw("name: x\nvlans: [\n  - a\n"), "line 3", "invalid YAML", "fix the YAML", id="yaml-syntax"
    ),
    pytest.param(raw(""), "", "the file is empty", "small.yaml", id="empty-file"),
    pytest.param(raw("# only a comment\n"), "", "the file is empty", "", id="comments-only-file"),
    pytest.param(raw("- a\n- b\n"), "(top level)", "must be a mapping", "key: value", id="top-level-list"),
    pytest.param(raw("just text\n"), "(top level)", "must be a mapping", "", id="top-level-scalar"),
    pytest.param(
        replaced("vlans:", "vlan:"), "vlan", "unknown field", "did you mean 'vlans'?", id="unknown-top-field"
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][0].update(colour="red")),
        "vlans[0].colour",
        "unknown field",
        "allowed fields: id, name",
        id="unknown-nested-field",
    ),
    pytest.param(
        mutated(lambda d: d["parameters"].update(ring_size="four")),
        "parameters.ring_size",
        "whole number, not str",
        "3..64",
        id="ring-size-string",
    ),
    pytest.param(
        mutated(lambda d: d["parameters"].update(ring_size=True)),
        "parameters.ring_size",
        "whole number, not bool",
        "(got True)",
        id="ring-size-bool",
    ),
    pytest.param(
        raw("name: a\nvlans: []\nname: b\n"),
        "line 3",
        "duplicate key 'name'",
        "first at line 1",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        raw("? [a, b]\n: 1\n"), "line 1", "unhashable key", "fix the YAML", id="unhashable-yaml-key"
    ),
    pytest.param(
        raw("name: small\ndescription: a\x00b\n"), "line 2", "#x0000", "remove", id="control-character"
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][1].update(id=10)),
        "vlans[1].id",
        "duplicate VLAN id (also vlans[0])",
        "(got 10)",
        id="duplicate-vlan-id",
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][1].update(name="office")),
        "vlans[1].name",
        "duplicate VLAN name",
        "'office'",
        id="duplicate-vlan-name",
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][0].update(id=0)), "vlans[0].id", "between 1 and 4094", "", id="vlan-id-0"
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][0].update(id=4095)),
        "vlans[0].id",
        "between 1 and 4094",
        "(got 4095)",
        id="vlan-id-4095",
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][0].update(subnet="10.10.0/16x")),
        "vlans[0].subnet",
        "not a valid IPv4 subnet",
        "ADDRESS/PREFIX",
        id="subnet-bad-text",
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][0].update(subnet="10.10.1.0/16")),
        "vlans[0].subnet",
        "host bits set",
        "did you mean 10.10.0.0/16?",
        id="subnet-host-bits",
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][1].update(subnet="10.10.128.0/17")),
        "vlans[1].subnet",
        "overlaps vlans[0].subnet",
        "does not overlap",
        id="overlapping-vlan-subnets",
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][1].update(subnet="10.255.0.0/16")),
        "vlans[1].subnet",
        "overlaps addressing.infrastructure",
        "does not overlap",
        id="vlan-overlaps-infrastructure",
    ),
    pytest.param(
        mutated(lambda d: d["bureaus"]["uplink"].update(bw_mbps=0)),
        "bureaus.uplink.bw_mbps",
        "must be positive",
        "(got 0)",
        id="bandwidth-zero",
    ),
    pytest.param(
        mutated(lambda d: d["sites"][0]["lans"][0].update(bw_mbps=-5)),
        "sites[0].lans[0].bw_mbps",
        "must be positive",
        "(got -5)",
        id="bandwidth-negative",
    ),
    pytest.param(
        mutated(lambda d: d["sites"][0]["uplink"].update(bw_mbps="1G")),
        "sites[0].uplink.bw_mbps",
        "number of Mbit/s, not str",
        "e.g. 100",
        id="bandwidth-string",
    ),
    pytest.param(
        replaced("uplink: {bw_mbps: 100}\n  lans:", "uplink: {bw_mbps: .nan}\n  lans:"),
        "bureaus.uplink.bw_mbps",
        "not NaN",
        "e.g. 100",
        id="bandwidth-nan",
    ),
    pytest.param(
        mutated(lambda d: d["sites"][0]["lans"][0].update(vlan="storage")),
        "sites[0].lans[0].vlan",
        "unknown VLAN",
        "use one of: office, servers",
        id="unknown-vlan-in-site-lan",
    ),
    pytest.param(
        mutated(lambda d: d["sites"][0].update(core="core9")),
        "sites[0].core",
        "no such core node",
        "core1, core2, core3",
        id="site-core-not-in-ring",
    ),
    pytest.param(
        mutated(lambda d: d["exit"].update(core="core4")),
        "exit.core",
        "no such core node",
        "parameters.ring_size",
        id="exit-core-not-in-ring",
    ),
    pytest.param(
        mutated(_second_site_same_gateway),
        "sites[1].gateway",
        "duplicate node name (already made by sites[0].gateway)",
        "unique name",
        id="duplicate-gateway-name",
    ),
    pytest.param(
        mutated(lambda d: d["sites"][0]["lans"][1].update(hosts=["core2"])),
        "sites[0].lans[1].hosts[0]",
        "duplicate node name (already made by backbone.ring)",
        "'core2'",
        id="host-named-like-core",
    ),
    pytest.param(
        mutated(lambda d: d.update(extra_links=[{"a": "core1", "b": "core7", "bw_mbps": 100}])),
        "extra_links[0].b",
        "dangling link",
        "'core7'",
        id="extra-link-dangling",
    ),
    pytest.param(
        mutated(lambda d: d.update(extra_links=[{"a": "noc1", "b": "core2", "bw_mbps": 100}])),
        "extra_links[0].a",
        "join routers",
        "lans instead",
        id="extra-link-to-host",
    ),
    pytest.param(
        mutated(lambda d: d.update(extra_links=[{"a": "core2", "b": "core2", "bw_mbps": 100}])),
        "extra_links[0]",
        "to itself",
        "two different nodes",
        id="extra-link-to-itself",
    ),
    pytest.param(
        mutated(lambda d: d["policy"].append({"from": "office", "to": "guests"})),
        "policy[7].to",
        "unknown zone",
        "'guests'",
        id="policy-unknown-zone",
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][0].update(zone="guests")),
        "vlans[0].zone",
        "unknown zone",
        "add it to zones",
        id="vlan-zone-undeclared",
    ),
    pytest.param(
        mutated(lambda d: d.pop("vlans")), "vlans", "is required", "add 'vlans:'", id="missing-vlans"
    ),
    pytest.param(mutated(lambda d: d.update(vlans=[])), "vlans", "at least 1", "", id="empty-vlans"),
    pytest.param(
        mutated(lambda d: d["sites"][0]["lans"][1].update(count=2)),
        "sites[0].lans[1].count",
        "either hosts (names) or count, not both",
        "remove one",
        id="hosts-and-count",
    ),
    pytest.param(
        mutated(lambda d: d["bureaus"]["lans"][0].update(count=245)),
        "bureaus.names[0].lans[0]",
        "245 hosts do not fit in 10.10.0.0/24",
        "fewer hosts",
        id="too-many-hosts-for-24",
    ),
    pytest.param(
        mutated(lambda d: d["exit"]["internet"].update(hosts=[f"c{i}" for i in range(245)])),
        "exit.internet.hosts",
        "245 hosts do not fit",
        "at most 244",
        id="too-many-internet-hosts",
    ),
    pytest.param(
        mutated(lambda d: d["parameters"].update(distribution_per_core=0)),
        "parameters.distribution_per_core",
        "bureaus need distribution switches",
        "1 or more",
        id="bureaus-without-distribution",
    ),
    pytest.param(
        mutated(lambda d: d.pop("bureaus")),
        "parameters.bureaus",
        "no 'bureaus' section",
        "parameters.bureaus: 0",
        id="bureaus-section-missing",
    ),
    pytest.param(
        mutated(lambda d: d["bureaus"]["uplink"].update(members=2)),
        "bureaus.uplink.members",
        "one uplink",
        "members: 1",
        id="bureau-uplink-members",
    ),
    pytest.param(
        mutated(lambda d: d["parameters"].update(firewall_members=0)),
        "parameters.firewall_members",
        "between 1 and 8",
        "(got 0)",
        id="firewall-members-0",
    ),
    pytest.param(
        mutated(lambda d: d["vlans"][3].update(routed=False)),
        "exit.dmz.vlan",
        "must be routed",
        "routed: true",
        id="dmz-vlan-not-routed",
    ),
    pytest.param(
        mutated(lambda d: d.update(name="Small City")),
        "name",
        "not a valid name",
        "lower-case",
        id="bad-name",
    ),
    pytest.param(
        mutated(lambda d: d.update(addressing={"infrastructure": "10.255.0.0/24"})),
        "addressing.infrastructure",
        "too small",
        "use a /21 or larger",
        id="infrastructure-too-small",
    ),
    pytest.param(
        mutated(lambda d: d["policy"][0].update(hours="18:00-8:00")),
        "policy[0].hours",
        "is not a time window",
        "HH:MM-HH:MM",
        id="policy-hours-format",
    ),
    pytest.param(
        mutated(lambda d: d["policy"][0].update(sources=["finance-staff"])),
        "policy[0].sources[0]",
        "unknown user group",
        "define it under groups",
        id="policy-unknown-group",
    ),
    pytest.param(
        mutated(lambda d: d["policy"][0].update(sources=["10.30.0.0/24"])),
        "policy[0].sources[0]",
        "lies outside zone 'office'",
        "use a range inside 10.10.0.0/16",
        id="policy-source-outside-zone",
    ),
    pytest.param(
        mutated(lambda d: d.update(groups={"staff": ["10.10.1.0/33"]})),
        "groups.staff[0]",
        "is not a valid IPv4 subnet",
        "ADDRESS/PREFIX",
        id="group-bad-subnet",
    ),
    pytest.param(
        mutated(lambda d: d["policy"].append({"from": "office", "to": "servers", "services": ["tcp/22"]})),
        "policy[7]",
        "a second rule for office -> servers",
        "merge it into policy[0]",
        id="policy-duplicate-pair",
    ),
]


@pytest.mark.parametrize(("build", "path", "fragment", "hint"), CASES)
def test_bad_model(
    build: Build, path: str, fragment: str, hint: str, small_text: str, small_variant: Variant
) -> None:
    text = build(small_text, small_variant)
    with pytest.raises(ModelError) as info:
        load_model_text(text, "bad.yaml")
    problems = info.value.problems
    report = "\n".join(str(p) for p in problems)
    at_path = [p for p in problems if p.path == path]
    assert at_path, f"no problem at {path!r}; got:\n{report}"
    assert any(fragment in p.message and hint in str(p) for p in at_path), (
        f"no problem at {path!r} says {fragment!r} / {hint!r}; got:\n{report}"
    )
    for p in problems:
        line = str(p)
        assert line.startswith("bad.yaml: "), line
        assert "; " in line, f"no fix given: {line}"
        assert "\n" not in line, f"one line per problem: {line!r}"


def test_reference_models_are_valid(small_text: str) -> None:
    assert load_model_text(small_text, "small.yaml").name == "small"


def test_hosts_up_to_the_limit_fit(small_variant: Variant) -> None:
    """244 hosts fill a /24 (.11 to .254); one more is the error above."""
    net = load_model_text(small_variant(lambda d: d["bureaus"]["lans"][0].update(count=244)), "ok.yaml")
    assert len([n for n in net.nodes if n.name.startswith("bureau-education-pc")]) == 244


def test_every_problem_is_reported_at_once(small_variant: Variant) -> None:
    def two_mistakes(d: dict[str, Any]) -> None:
        d["vlans"][0]["id"] = 0
        d["parameters"]["ring_size"] = "four"

    with pytest.raises(ModelError) as info:
        load_model_text(small_variant(two_mistakes), "bad.yaml")
    paths = {p.path for p in info.value.problems}
    assert {"vlans[0].id", "parameters.ring_size"} <= paths


def test_duplicate_names_do_not_add_a_misleading_distribution_problem(small_variant: Variant) -> None:
    """Distribution switches named like cores fail as duplicates, not as 'distribution_per_core is 0'."""
    with pytest.raises(ModelError) as info:
        load_model_text(small_variant(lambda d: d.update(backbone={"distribution": {"prefix": "core"}})), "b")
    paths = [p.path for p in info.value.problems]
    assert "backbone.distribution" in paths
    assert "parameters.distribution_per_core" not in paths
