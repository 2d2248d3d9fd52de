"""A self-contained HTML report page: inline CSS and script, images embedded as data URIs.

One file that can be mailed, archived or opened offline, with nothing fetched from anywhere.
Everything that comes from data or plugins (model and dataset names, table cells, headings,
paragraphs) is HTML-escaped: a plugin may name a model ``<script>...``, and opening a report
must never run it. Beyond escaping, the page carries a Content-Security-Policy that lets run only
the one fixed script below (by its hash), loads nothing from the network and applies only the
fixed style sheet, so even a slip in escaping could not run or fetch anything.

The page opens on the claims (:class:`Badge`: verdict word, symbol and colour, a one-sentence
reading, a small figure); every section after them is a fold (``<details>``), closed, so the
first screen says what was decided and the evidence is one click away. Tables sort on a click
on a column header; a table with a ``dataset`` column is grouped by dataset (one ``<tbody>``
each, headed by its name) and sorts within each group.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
import re
from dataclasses import dataclass
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
p.lead { color: #555; margin: .2em 0 1em; }
.claims { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 1em; margin: 1em 0 1.5em; }
.claim { border: 1px solid #ddd; border-radius: 6px; padding: .7em .9em; }
.claim h2 { font-size: 1.1em; margin: 0; border: 0; padding: 0; }
.claim .question { margin: .1em 0 .5em; color: #555; font-size: .9em; }
.claim .reading { font-size: .92em; margin: .5em 0; }
.claim figure { margin: .4em 0 0; }
.claim img { width: 100%; }
.claim .hint { font-size: .88em; color: #555; border-left: 3px solid #ccc; padding-left: .6em; }
.badge { display: inline-block; font-weight: 700; font-size: 1.05em; padding: .15em .6em; border-radius: 1em;
         color: #fff; border: 2px solid transparent; }
.badge .sym { margin-right: .3em; }
.verdict-supported { background: #1a7f37; }
.verdict-refuted { background: #c62828; }
.verdict-mixed { background: #9a6700; }
.verdict-inconclusive { background: #57606a; }
.verdict-not-evaluated { background: #f3f4f6; color: #3d444d; border: 2px dashed #8c959f; }
details { border-top: 1px solid #ddd; }
details > summary { cursor: pointer; padding: .4em 0; }
details > summary h2 { display: inline; font-size: 1.15em; border: 0; margin: 0; }
details[open] > summary { margin-bottom: .5em; }
th { cursor: pointer; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
tr.group th { background: #e8eef5; cursor: default; }
"""

#: The page's one script: tables sort on a click on a header (numbers as numbers, blanks last,
#: each dataset group on its own), and a link to a folded section opens its fold.
SCRIPT = """
function cellKey(cell) {
  var text = cell.textContent.trim(), x = parseFloat(text);
  return cell.classList.contains("num") ? (isNaN(x) ? null : x) : (text === "\u2013" ? null : text);
}
document.addEventListener("click", function (event) {
  var th = event.target.closest("thead th");
  if (!th) return;
  var table = th.closest("table"), col = th.cellIndex;
  var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
  table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  table.querySelectorAll("tbody").forEach(function (body) {
    var rows = Array.from(body.rows).filter(function (r) { return !r.classList.contains("group"); });
    rows.sort(function (a, b) {
      var x = cellKey(a.cells[col]), y = cellKey(b.cells[col]);
      if (x === null || y === null) return (x === null) - (y === null);
      return dir * (typeof x === "number" ? x - y : String(x).localeCompare(String(y)));
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
function openTarget() {
  for (var el = location.hash && document.getElementById(location.hash.slice(1)); el; el = el.parentElement) {
    if (el.tagName === "DETAILS") el.open = true;
  }
}
window.addEventListener("hashchange", openTarget);
openTarget();
"""


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline script or style."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


#: Nothing loads from anywhere; only images inline as data URIs, the fixed style sheet and script.
CSP = f"default-src 'none'; img-src data:; style-src {csp_hash(CSS)}; script-src {csp_hash(SCRIPT)}"


@dataclass(frozen=True)
class Badge:
    """One claim on the first screen: ``verdict`` (the word shown, also its colour's class),
    ``symbol`` (the same verdict without colour), a one-sentence ``reading``, and a small
    ``figure`` with its ``caption`` and/or a ``hint`` (how to get more evidence); ``section`` is the heading
    of the fold with the claim's evidence, linked from the card."""

    claim: str
    label: str
    question: str
    verdict: str
    symbol: str
    reading: str
    figure: Path | None = None
    caption: str = ""
    hint: str = ""
    section: str = ""


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
    """DataFrame -> escaped HTML table; numeric columns formatted and right-aligned. With a
    ``dataset`` column naming more than one dataset, one ``<tbody>`` per dataset (in order of
    appearance) headed by its name, so sorting keeps each dataset's rows together."""
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in df.columns)

    def rows(frame: pd.DataFrame) -> list[str]:
        out = []
        for row in frame.itertuples(index=False, name=None):
            cells = []
            for col, value in zip(frame.columns, row):
                cls = ' class="num"' if col in numeric else ""
                cells.append(f"<td{cls}>{html.escape(fmt_value(value))}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        return out

    grouped = "dataset" in df.columns and df["dataset"].nunique() > 1
    if not grouped:
        bodies = ["<tbody>\n" + "\n".join(rows(df)) + "\n</tbody>"]
    else:
        bodies = []
        for name in dict.fromkeys(df["dataset"]):
            group = (
                f'<tr class="group"><th colspan="{len(df.columns)}" scope="rowgroup">{html.escape(str(name))}</th></tr>'
            )
            bodies.append("<tbody>\n" + "\n".join([group, *rows(df[df["dataset"] == name])]) + "\n</tbody>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n" + "\n".join(bodies) + "\n</table>"


def image_html(path: Path, caption: str | None = None) -> str:
    """A PNG embedded as a base64 data URI (no external file to lose); a missing one is noted.
    The caption (and alt text) is ``caption``, else the file's stem."""
    path = Path(path)
    if not path.is_file():
        return f'<p class="missing">figure not found: {html.escape(path.name)}</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.stem if caption is None else caption)
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


def badge_html(badge: Badge, anchor: str | None) -> str:
    """One claim's card: label and question, the verdict badge (symbol and word on its colour),
    the reading, the figure (or the hint) and a link to the fold with its evidence."""
    esc = html.escape
    slug = re.sub(r"[^a-z0-9]+", "-", badge.verdict.lower()).strip("-")
    parts = [
        f'<article class="claim" data-claim="{esc(badge.claim)}">',
        f"<h2>{esc(badge.label)}</h2>",
        f'<p class="question">{esc(badge.question)}</p>',
        f'<p><span class="badge verdict-{slug}" data-verdict="{esc(badge.verdict)}">'
        f'<span class="sym" aria-hidden="true">{esc(badge.symbol)}</span><span class="word">{esc(badge.verdict)}</span>'
        "</span></p>",
        f'<p class="reading">{esc(badge.reading)}</p>',
    ]
    if badge.figure is not None:
        parts.append(image_html(badge.figure, caption=badge.caption or badge.figure.stem))
    if badge.hint:
        parts.append(f'<p class="hint">{esc(badge.hint)}</p>')
    if anchor:
        parts.append(f'<p><a href="#{anchor}">Evidence and rule</a></p>')
    return "\n".join([*parts, "</article>"])


def render_html(
    title: str, sections: list[tuple[str, list[Block]]], badges: list[Badge] | None = None, lead: str = ""
) -> str:
    """The whole page: title, ``lead`` (one line), the claims' ``badges``, then each (heading,
    blocks) section as a closed fold, its heading the fold's summary."""
    used: set[str] = set()
    anchors = [_anchor(heading, used) for heading, _ in sections]
    by_heading = dict(zip((h for h, _ in sections), anchors))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if lead:
        parts.append(f'<p class="lead">{html.escape(lead)}</p>')
    if badges:
        cards = [badge_html(b, by_heading.get(b.section)) for b in badges]
        parts.append('<div class="claims">\n' + "\n".join(cards) + "\n</div>")
    for anchor, (heading, blocks) in zip(anchors, sections):
        parts.append(f'<details id="{anchor}"><summary><h2>{html.escape(heading)}</h2></summary>')
        parts.extend(block_html(b) for b in blocks)
        parts.append("</details>")
    parts.append(f"<script>{SCRIPT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(
    path: Path | str,
    title: str,
    sections: list[tuple[str, list[Block]]],
    badges: list[Badge] | None = None,
    lead: str = "",
) -> Path:
    """Render (:func:`render_html`) and write atomically (temp file + os.replace): a reader never
    sees half a page. A write that fails (a full disk) leaves no temporary file and raises
    :class:`harness.errors.OutputError` naming ``path``."""
    path = Path(path)
    text = render_html(title, sections, badges, lead)
    tmp = tmp_name(path)
    with writing(path, tmp):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path
