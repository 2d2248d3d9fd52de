"""A self-contained HTML report page: inline CSS, images embedded as data URIs.

One file that can be mailed, archived or opened offline, with nothing fetched from anywhere.
Everything that comes from data or plugins (model and dataset names, table cells, headings,
paragraphs) is HTML-escaped: a plugin may name a model ``<script>...``, and opening a report
must never run it.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from pathlib import Path

import pandas as pd

from harness.output import tmp_name, writing

Block = str | pd.DataFrame | Path

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1150px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #0072B2; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
nav ul { columns: 3; font-size: .92em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; }
th { background: #f3f6f9; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #666; }
p.missing { color: #a00; }
"""


def fmt_value(value: object) -> str:
    """Numbers as a reader wants them in a table: 3 decimals, 3 significant digits when extreme."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        v = float(value)  # type: ignore[arg-type]
        if math.isnan(v):
            return "–"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
    return str(value)


def table_html(df: pd.DataFrame) -> str:
    """DataFrame -> escaped HTML table; numeric columns formatted and right-aligned."""
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(df.columns, row):
            cls = ' class="num"' if col in numeric else ""
            cells.append(f"<td{cls}>{html.escape(fmt_value(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"


def image_html(path: Path) -> str:
    """A PNG embedded as a base64 data URI (no external file to lose); a missing one is noted."""
    path = Path(path)
    if not path.is_file():
        return f'<p class="missing">figure not found: {html.escape(path.name)}</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.stem)
    return f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{name}</figcaption></figure>'


def block_html(block: Block) -> str:
    """One block: str -> paragraph, DataFrame -> table, Path -> embedded image."""
    if isinstance(block, pd.DataFrame):
        return table_html(block)
    if isinstance(block, Path):
        return image_html(block)
    if isinstance(block, str):
        return f"<p>{html.escape(block)}</p>"
    raise TypeError(f"unsupported report block: {type(block).__name__}")


def _anchor(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    anchor, i = base, 2
    while anchor in used:
        anchor, i = f"{base}-{i}", i + 1
    used.add(anchor)
    return anchor


def render_html(title: str, sections: list[tuple[str, list[Block]]]) -> str:
    """The whole page: title, a table of contents, then each (heading, blocks) section."""
    used: set[str] = set()
    anchors = [_anchor(heading, used) for heading, _ in sections]
    toc = "".join(f'<li><a href="#{a}">{html.escape(h)}</a></li>' for a, (h, _) in zip(anchors, sections))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if len(sections) > 1:
        parts.append(f"<nav><ul>{toc}</ul></nav>")
    for anchor, (heading, blocks) in zip(anchors, sections):
        parts.append(f'<section><h2 id="{anchor}">{html.escape(heading)}</h2>')
        parts.extend(block_html(b) for b in blocks)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(path: Path | str, title: str, sections: list[tuple[str, list[Block]]]) -> Path:
    """Render and write atomically (temp file + os.replace): a reader never sees half a page.
    A write that fails (a full disk) leaves no temporary file and raises
    :class:`harness.errors.OutputError` naming ``path``."""
    path = Path(path)
    text = render_html(title, sections)
    tmp = tmp_name(path)
    with writing(path, tmp):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path
