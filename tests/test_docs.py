"""The README stays a short front door, and the docs it opens onto hold together.

Checks: README.md is at most 200 lines; every relative link in README.md and docs/*.md points at a
file that exists; every docs page has a worked example (a fenced code block) and is linked from the
README.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code (links there are not links)."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def _relative_links(path: Path) -> list[str]:
    links = []
    for target in LINK.findall(_prose(path.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http:, https:, mailto: ... and anchors within the page
        links.append(target)
    return links


def test_readme_is_a_short_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines (at most {MAX_README_LINES}): move detail to a page in docs/"
    )


@pytest.mark.parametrize("path", [README, *_pages()], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file(path: Path) -> None:
    broken = []
    for target in _relative_links(path):
        file = target.split("#", 1)[0]
        resolved = (path.parent / file).resolve()
        try:
            resolved.relative_to(ROOT)
        except ValueError:
            broken.append(f"{target} (outside the repository)")
            continue
        if not resolved.exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links to missing files: {broken}"


def test_docs_exist() -> None:
    assert len(_pages()) >= 10, "docs/ should hold one page per area"


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.name)
def test_every_docs_page_has_a_worked_example(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fences = [line for line in text.splitlines() if FENCE.match(line.lstrip())]
    assert len(fences) >= 2, f"docs/{path.name} has no fenced code block: give a worked example"


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.name)
def test_every_docs_page_is_linked_from_the_readme(path: Path) -> None:
    targets = {(README.parent / t.split("#", 1)[0]).resolve() for t in _relative_links(README)}
    assert path.resolve() in targets, f"README.md does not link to docs/{path.name}"


def test_the_link_check_sees_links_and_skips_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "See [a](a.md), [b](sub/b.md#part) and [web](https://example.org), [top](#top).\n"
        "`[not](code.md)`\n```\n[nor](fenced.md)\n```\n",
        encoding="utf-8",
    )
    assert _relative_links(page) == ["a.md", "sub/b.md#part"]
