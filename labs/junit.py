"""A lab run as JUnit XML (`<run>/junit.xml`), so that CI systems show a lab as tests.

One `testsuite` named after the lab inside `testsuites`: one testcase per expectation (classname
`lab.<name>.expectations`), per part verdict (`lab.<name>.parts`), per timeline action
(`lab.<name>.timeline`) and one for the lab's verdict (`lab.<name>`, name `verdict`), so a failed
lab never shows as green. A failed case has a `failure` element with the text; a timeline action
that was not run is `skipped`. Counts are attributes of both elements; properties, system-out (why
it failed) and system-err (the run's error) follow the common JUnit schema's order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from labs.markdown import text_of
from labs.rundata import RunData, load_run, why_lines

JUNIT_XML = "junit.xml"


def _case(parent: ET.Element, classname: str, name: str, time_s: float = 0.0) -> ET.Element:
    return ET.SubElement(parent, "testcase", {"classname": classname, "name": name, "time": f"{time_s:.3f}"})


def _fail(case: ET.Element, message: str, kind: str) -> None:
    el = ET.SubElement(case, "failure", {"message": message[:500], "type": kind})
    el.text = message


def suite_of(data: RunData) -> ET.Element:
    """The `testsuites` element of a run."""
    name = data.name
    total = data.results.get("total_s")
    total_s = float(total) if isinstance(total, int | float) else 0.0
    root = ET.Element("testsuites", {"name": f"govnet lab {name}"})
    suite = ET.SubElement(root, "testsuite", {"name": f"lab.{name}"})
    props = ET.SubElement(suite, "properties")
    facts = {
        "model": data.results.get("model"),
        "run": data.run.name,
        "seed": data.results.get("seed"),
        "commit": data.meta.get("commit"),
    }
    for k, v in facts.items():
        if v not in (None, ""):
            ET.SubElement(props, "property", {"name": k, "value": text_of(v)})
    for e in data.list_of("expectations"):
        case = _case(suite, f"lab.{name}.expectations", text_of(e.get("name") or e.get("kind")))
        if not e.get("ok"):
            what = f"expected {text_of(e.get('expected'))}, measured {text_of(e.get('measured'))}"
            _fail(case, f"{text_of(e.get('text') or what)}", text_of(e.get("kind") or "expectation"))
    parts = data.results.get("parts")
    for key, p in parts.items() if isinstance(parts, dict) else []:
        p = p if isinstance(p, dict) else {}
        case = _case(suite, f"lab.{name}.parts", str(key))
        if not p.get("ok", True):
            reasons = "; ".join(text_of(r) for r in p.get("reasons") or []) or "failed"
            _fail(case, reasons, "part")
    for a in data.list_of("timeline"):
        label = text_of(a.get("do") or ".".join(text_of(a.get(k)) for k in ("part", "action")))
        at = a.get("planned_s")
        case = _case(suite, f"lab.{name}.timeline", f"{label} at {text_of(at)} s")
        state = str(a.get("state") or ("done" if a.get("ok", True) else "failed"))
        if state == "not run":
            ET.SubElement(case, "skipped", {"message": text_of(a.get("error") or "not run")[:500]})
        elif not a.get("ok", True):
            _fail(case, f"{state}: {text_of(a.get('error') or '')}".rstrip(": "), "action")
    verdict = _case(suite, f"lab.{name}", "verdict", total_s)
    if not data.results.get("ok"):
        _fail(verdict, "; ".join(why_lines(data)) or "the lab failed", "lab")
    cases = suite.findall("testcase")
    counts = {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": 0,
        "skipped": sum(1 for c in cases if c.find("skipped") is not None),
    }
    attrs: dict[str, Any] = {**counts, "time": f"{total_s:.3f}", "id": "0", "package": f"lab.{name}"}
    started = data.meta.get("started")
    if isinstance(started, str) and started:
        attrs["timestamp"] = started.rstrip("Z")
    attrs["hostname"] = text_of(data.meta.get("host") or data.meta.get("hostname") or "localhost")
    for k, v in attrs.items():
        suite.set(k, str(v))
    for k in ("tests", "failures", "errors", "skipped", "time"):
        root.set(k, str(attrs[k]))
    ET.SubElement(suite, "system-out").text = "\n".join(why_lines(data)) or "passed"
    ET.SubElement(suite, "system-err").text = text_of(data.results.get("error") or "")
    return root


def write_junit(run_dir: Path) -> Path:
    """Write `<run>/junit.xml` from the run directory; its path."""
    data = load_run(Path(run_dir))
    root = suite_of(data)
    ET.indent(root)
    path = data.run / JUNIT_XML
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
