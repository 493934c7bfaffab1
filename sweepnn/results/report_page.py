"""The HTML of `sweepnn report`'s page (its contents: sweepnn.results.report_html): the page around
a body, its stylesheet, and the pieces every section is made of (text, notes, facts, tables).

One stylesheet, inlined, and system fonts only, so the file needs nothing beside it: a font or a
stylesheet fetched from the web would be a network request, and the page makes none. Its
Content-Security-Policy says so to the browser: no script runs, nothing is fetched, images come
only from data: URIs. Every stored text goes through `esc`: shown as text, never read as HTML.

Rows are tinted by outcome with the colours the terminal gives them (sweepnn.results.display): yellow
trained with a problem, red did not train, magenta cut short; ok rows are left plain.
"""

from __future__ import annotations

import html
import re

import pandas as pd

from sweepnn.results.display import OUTCOME_STYLE as OUTCOME_COLOURS  # the terminal's colours
from sweepnn.results.tables import fmt
from sweepnn.untrusted import safe_text

# What the page may load: its own inline style and data: images; no script, nothing from a network.
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# cells aligned right: a number as fmt writes it (0.03, 7.67e-04, inf), or a mean ± its spread
_NUMBER = re.compile(r"[-+]?(\d[\d.]*(e[-+]?\d+)?|inf|nan)( ± .*)?", re.IGNORECASE)


def page(title: str, body: list[str]) -> str:
    """A whole HTML document of `body`'s pieces (HTML already), titled `title` (as text)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def tint(outcome: str) -> str:
    """The row class of an outcome ('dead 2/3' is dead's): none for ok and for outcomes the terminal
    leaves uncoloured."""
    name = str(outcome).split(" ")[0]
    colour = OUTCOME_COLOURS.get(name) if name != "ok" else None
    return f"o-{colour}" if colour else ""


def esc(value, multiline: bool = False) -> str:
    """Stored text as HTML text: control characters shown as escapes (sweepnn.untrusted), then every
    character HTML gives a meaning to (< > & " ') escaped."""
    return html.escape(safe_text(value, multiline=multiline), quote=True)


def note(words: str) -> str:
    """A paragraph in grey: what a section leaves out, or why it is empty."""
    return f'<p class="note">{esc(words, multiline=True)}</p>'


def facts(rows: list[tuple[str, str]]) -> str:
    """Name and value pairs, one a line."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f'<dl class="facts">{items}</dl>'


def key() -> str:
    """What the tints of a trials table say, in the terminal's words."""
    spans = (("o-yellow", "trained with a problem"), ("o-red", "did not train"), ("o-magenta", "cut short"))
    return '<p class="key note">' + "".join(f'<span class="{c}">{t}</span>' for c, t in spans) + "</p>"


def table(
    df: pd.DataFrame, caption: str = "", row_classes: list[str] | None = None, wrap=(), name: str = ""
) -> str:
    """A frame as an HTML table: values as the terminal shows them (fmt), numbers right-aligned,
    columns in `wrap` allowed to break their lines, rows tinted by `row_classes`; `name` is the
    table's class, by which a reader (or a test) finds it."""
    wrapped = [c in wrap for c in df.columns]
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    rows = []
    for i, values in enumerate(df.itertuples(index=False)):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = "".join(_cell(v, w) for v, w in zip(values, wrapped, strict=True))
        rows.append(f"<tr{cls}>{cells}</tr>")
    # the caption above the table, not in it: as wide as the page, where a long one reads on one line
    title = f'<p class="caption">{esc(caption)}</p>' if caption else ""
    body = "\n".join(rows)
    html_table = f'<table class="{name}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'
    return f'{title}<div class="scroll">{html_table}</div>'


def _cell(value, wrap: bool) -> str:
    shown = value if isinstance(value, str) else fmt(value)
    cls = "n" if _NUMBER.fullmatch(shown) else ("wrap" if wrap else "")
    return f'<td class="{cls}">{esc(shown)}</td>' if cls else f"<td>{esc(shown)}</td>"


CSS = """
:root { color-scheme: light; }
body {
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1f2328; background: #fff; margin: 0 auto; padding: 1.2em 2em 3em; max-width: 1280px;
}
h1 { font-size: 1.6em; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.3em; margin: 1.8em 0 0.4em; padding-bottom: 0.2em; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 1.05em; margin: 1.4em 0 0.4em; }
p, ul { margin: 0.3em 0 0.6em; }
.note { color: #59636e; }
.warning { color: #9a1c1c; background: #ffdede; border: 1px solid #e8a5a5; padding: 0.3em 0.6em;
  white-space: pre-wrap; display: inline-block; }
.description { font-size: 1.05em; white-space: pre-wrap; }
nav a { margin-right: 1em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1.2em; margin: 0.4em 0; }
dl.facts dt { color: #59636e; }
dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; margin: 0.3em 0 0.8em; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
p.caption { font-weight: 600; margin: 0.9em 0 0.1em; }
th, td { border: 1px solid #d0d7de; padding: 0.2em 0.55em; text-align: left; white-space: nowrap; }
th { background: #f3f5f7; }
td.n { text-align: right; }
td.wrap { white-space: normal; min-width: 24em; }
tbody tr.o-yellow { background: #fff4cc; }
tbody tr.o-red { background: #ffdede; }
tbody tr.o-magenta { background: #f6e0fa; }
.key span { display: inline-block; padding: 0 0.5em; margin-right: 0.4em; border: 1px solid #d0d7de; }
.key .o-yellow { background: #fff4cc; }
.key .o-red { background: #ffdede; }
.key .o-magenta { background: #f6e0fa; }
.charts {
  display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); grid-auto-flow: dense;
  gap: 1em;
}
.charts figure.wide { grid-column: 1 / -1; }
figure { margin: 0; border: 1px solid #d0d7de; padding: 0.4em; background: #fff; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: 12px; color: #59636e; text-align: center; padding-top: 0.2em; }
pre {
  background: #f6f8fa; border: 1px solid #d0d7de; padding: 0.7em 1em; overflow-x: auto;
  font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
details summary { cursor: pointer; margin: 0.4em 0; }
"""
