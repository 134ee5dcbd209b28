"""Text a person reads, from the values a run stored: plain words for values (no None, reprs or
braces), HTML escaping, and the Markdown subset report.md uses, as HTML.
"""

from __future__ import annotations

import ast
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any


# --- text -----------------------------------------------------------------------------------------
def text_of(v: Any) -> str:
    """A value as a person reads it: no None, no reprs, no braces."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    if isinstance(v, str):
        return "–" if v == "None" else _REPR.sub(_plain, v)
    if isinstance(v, Mapping):
        return "; ".join(f"{k} {text_of(x)}" for k, x in v.items()) or "–"
    if isinstance(v, Iterable):
        return ", ".join(text_of(x) for x in v) or "–"
    return str(v)


def esc(v: Any) -> str:
    return html.escape(text_of(v), quote=True)


def seconds(s: Any) -> str:
    if not isinstance(s, int | float):
        return "–"
    if s >= 120:
        return f"{s / 60:.1f} min ({s:.0f} s)"
    return f"{s:.1f} s"


_REPR = re.compile(r"\{'[^{}]*\}|\['[^\[\]]*\]")


def _plain(m: re.Match[str]) -> str:
    try:
        return text_of(ast.literal_eval(m.group(0)))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return m.group(0)


def tidy(text: str) -> str:
    """Python reprs of dicts and lists that parts wrote into report.md (and a bare None), as plain
    text."""
    return re.sub(r"\bNone\b", "–", _REPR.sub(_plain, text))


# --- Markdown (the subset report.md uses) ---------------------------------------------------------
def _inline(text: str) -> str:
    """Escaped text with `code` and **bold** spans."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for p in parts:
        if len(p) >= 2 and p.startswith("`") and p.endswith("`"):
            out.append(f"<code>{html.escape(p[1:-1])}</code>")
        else:
            e = html.escape(p)
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", e))
    return "".join(out)


def _cells(line: str) -> list[str]:
    """A Markdown table row's cells; a | inside `code` or escaped as \\| does not split."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells, cur, in_code, i = [], "", False, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] == "|":
            cur += "|"
            i += 2
            continue
        if c == "`":
            in_code = not in_code
        if c == "|" and not in_code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    cells.append(cur.strip())
    return cells


_SEP = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_HEAD = re.compile(r"^(#{1,6})\s+(.*)$")
_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+(.*)$")


def markdown_html(text: str, shift: int = 2) -> str:
    """HTML of the Markdown subset report.md uses: headings (shifted down by `shift` levels),
    paragraphs, lists, pipe tables, fenced code, `code` and **bold**."""
    lines = tidy(text).splitlines()
    out: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("```"):
            flush()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(body))}</code></pre>")
            i += 1
            continue
        m = _HEAD.match(s)
        if m:
            flush()
            level = min(6, len(m.group(1)) + shift)
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
            i += 1
            continue
        if s.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(lines[i])
                i += 1
            out.append(_table_html(rows))
            continue
        if _ITEM.match(line):
            flush()
            ordered = bool(re.match(r"^\s*\d+\.", line))
            items = []
            while i < len(lines) and _ITEM.match(lines[i]):
                item = _ITEM.match(lines[i])
                assert item is not None
                items.append(f"<li>{_inline(item.group(1))}</li>")
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        if not s:
            flush()
        else:
            para.append(s)
        i += 1
    flush()
    return "\n".join(out)


def _table_html(rows: list[str]) -> str:
    head: list[str] = []
    body = rows
    if len(rows) >= 2 and _SEP.match(rows[1].strip()):
        head, body = _cells(rows[0]), rows[2:]
    out = ["<table>"]
    if head:
        out.append("<thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead>")
    out.append("<tbody>")
    for r in body:
        out.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)
