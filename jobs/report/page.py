"""HTML building blocks of the report: the document with its stylesheet, sections, tables,
headline cards. Everything is inline (no fonts, scripts or images fetched), and every value
passes through `esc` on its way into markup.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from jobs.report.svg import esc

CSS = """
:root { --ink: #1f2933; --muted: #52606d; --line: #e4e7eb; --bg: #f5f7fa; --accent: #0072B2;
        --good: #007a5a; --bad: #c0392b; --warn: #b7791f; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #102a43; color: #fff; padding: 28px 40px 24px; }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; }
header p { margin: 0; color: #bcccdc; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 24px 48px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin: 0 0 20px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .value { font-size: 22px; font-weight: 650; }
.card .label { color: var(--muted); font-size: 12.5px; }
.card.bad .value { color: var(--bad); } .card.good .value { color: var(--good); }
nav.toc { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 18px; margin-bottom: 20px; }
nav.toc h2 { font-size: 14px; margin: 0 0 6px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
nav.toc ol { margin: 0; padding-left: 20px; columns: 2; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 20px 24px; margin-bottom: 20px; }
section > h2 { margin: 0 0 4px; font-size: 20px; }
section h3 { margin: 22px 0 6px; font-size: 15px; }
p.source { color: var(--muted); font-size: 12.5px; margin: 0 0 12px; }
p.note { color: var(--muted); font-size: 13px; }
.nodata { background: #fffbea; border: 1px solid #f0d98c; border-radius: 6px; padding: 10px 14px; color: #7c5e10; }
figure { margin: 12px 0 4px; }
svg.chart { display: block; width: 100%; height: auto; font-family: inherit; }
table { border-collapse: collapse; width: 100%; margin: 10px 0; font-size: 12.5px; }
.table-wrap { overflow-x: auto; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 6px; text-align: left; vertical-align: top;
         white-space: nowrap; }
th { background: #f0f4f8; font-weight: 600; white-space: normal; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; }
tr.bad td { background: #fdecea; }
.pill { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; }
.pill.ok { background: #e3f9e5; color: var(--good); } .pill.bad { background: #fdecea; color: var(--bad); }
.pill.warn { background: #fff3c4; color: var(--warn); }
details { margin: 8px 0; } summary { cursor: pointer; color: var(--accent); }
ul.messages { margin: 4px 0; padding-left: 18px; font-size: 12.5px; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 12px; }
@media print { body { background: #fff; } section, nav.toc, .card { break-inside: avoid; } }
"""


@dataclass
class Card:
    value: str
    label: str
    tone: str = ""  # "", good, bad


def cards(items: Sequence[Card]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card {esc(c.tone)}"><div class="value">{esc(c.value)}</div>'
        f'<div class="label">{esc(c.label)}</div></div>' for c in items) + "</div>"


def no_data(what: str) -> str:
    return f'<p class="nodata">No data for {esc(what)}.</p>'


def figure(svg: str) -> str:
    return f"<figure>{svg}</figure>"


def table(headers: Sequence[str], rows: Sequence[Sequence], numeric: Sequence[bool] | None = None,
          row_classes: Sequence[str] | None = None, wrap: Sequence[int] = ()) -> str:
    """A table of escaped values; `numeric` columns are right-aligned; cells stay on one line
    except in the `wrap` columns (long free text such as paths)."""
    numeric = numeric or [False] * len(headers)

    def cls(j: int) -> str:
        names = (["num"] if numeric[j] else []) + (["wrap"] if j in wrap else [])
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f"<th{cls(j)}>{esc(h)}</th>" for j, h in enumerate(headers))
    body = []
    for i, row in enumerate(rows):
        rc = f' class="{esc(row_classes[i])}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{rc}>" + "".join(f"<td{cls(j)}>{esc(v)}</td>" for j, v in enumerate(row)) + "</tr>")
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


@dataclass
class Section:
    anchor: str
    title: str
    source: str  # where the numbers come from, shown under the title
    body: str  # markup, already escaped
    empty: bool = False  # the range has nothing for this section (the body says so)


def document(title: str, subtitle: str, headline: str, sections: Sequence[Section], footer: str) -> str:
    toc = "".join(f'<li><a href="#{esc(s.anchor)}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{esc(s.anchor)}"><h2>{esc(s.title)}</h2><p class="source">{esc(s.source)}</p>'
                   f"{s.body}</section>" for s in sections)
    # no <script>, <link> or remote URL anywhere: the file must render offline and stay inert
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            f"img-src data:\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>\n<main>{headline}"
            f'<nav class="toc"><h2>Contents</h2><ol>{toc}</ol></nav>\n{body}</main>'
            f"<footer>{esc(footer)}</footer></body></html>\n")
