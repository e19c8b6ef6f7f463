"""SVG chart primitives for the HTML report: pure functions from numbers to markup.

The report must open with no network access, so charts are drawn here as inline SVG rather
than by a charting library in the browser. Every chart is one `<svg>` with a viewBox (it
scales with the page), a visible title, axis labels and a legend; data marks carry
`class="mark"` so a test can find them. There are no font metrics offline: label widths are
estimated from character counts, generously, and long labels are shortened with "…".
Every piece of text goes through `esc`.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

FONT = 12
TITLE_FONT = 15
#: colour-blind-safe (Okabe-Ito, then Tableau); series keep their colour across charts
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#4E79A7",
           "#9C755F", "#B07AA1", "#76B7B2", "#EDC948"]
#: for stages: without the green, vermilion and grey that mean converted, dropped and open
STAGE_PALETTE = ["#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#7B61B0", "#8C6D31", "#17BECF", "#B5BD00"]
INK, MUTED, GRID, AXIS = "#1f2933", "#52606d", "#e4e7eb", "#9aa5b1"


def esc(value) -> str:
    """Text or attribute value, escaped for HTML and SVG alike."""
    return html.escape("" if value is None else str(value), quote=True)


def text_width(text: str, size: float = FONT) -> float:
    # an average sans-serif glyph is ~0.55 em; 0.6 leaves room for wide letters
    return len(text) * size * 0.6


def shorten(text: str, max_width: float, size: float = FONT) -> str:
    if text_width(text, size) <= max_width:
        return text
    keep = max(1, int(max_width / (size * 0.6)) - 1)
    return text[:keep] + "…"


def num(x: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros, so output is stable and short."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def fmt_count(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.1f}"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x * 100:.{digits}f}%"


@dataclass(frozen=True)
class Scale:
    """Linear map from a data domain to pixels."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, x: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (x - self.d0) * (self.r1 - self.r0) / (self.d1 - self.d0)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten)."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        hi = lo + (abs(lo) or 1)
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9)
    ticks = [round(first * step, 10)]
    # count in whole steps (no float drift) until the range is covered, at least two ticks
    while ticks[-1] < hi - step * 1e-9 or len(ticks) < 2:
        ticks.append(round((first + len(ticks)) * step, 10))
    return ticks


def nice_max(values: Sequence[float], count: int = 5) -> float:
    top = max([v for v in values if v is not None] or [0])
    return nice_ticks(0, top if top > 0 else 1, count)[-1]


# ------------------------------------------------------------------ frame, axes, legend


@dataclass
class LegendItem:
    label: str
    color: str
    kind: str = "box"  # box | line | dashed | dot | interval


def _open(width: float, height: float, title: str, chart_id: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{esc(chart_id)}" '
            f'viewBox="0 0 {num(width)} {num(height)}" width="{num(width)}" height="{num(height)}" '
            f'role="img" aria-labelledby="{esc(chart_id)}-title" font-size="{FONT}">',
            f'<title id="{esc(chart_id)}-title">{esc(title)}</title>',
            f'<text class="chart-title" x="0" y="{TITLE_FONT + 2}" font-size="{TITLE_FONT}" '
            f'font-weight="600" fill="{INK}">{esc(title)}</text>']


def legend(items: Sequence[LegendItem], x: float, y: float, max_width: float) -> tuple[list[str], float]:
    """Legend entries in rows from (x, y); returns the markup and the height used."""
    out, cx, cy, row_h = ['<g class="legend">'], x, y, FONT + 8
    for item in items:
        w = 22 + text_width(item.label) + 16
        if cx > x and cx + w > x + max_width:
            cx, cy = x, cy + row_h
        mid = cy + row_h / 2 - 1
        if item.kind == "box":
            out.append(f'<rect x="{num(cx)}" y="{num(mid - 6)}" width="14" height="12" rx="2" fill="{item.color}" '
                       f'stroke="#7b8794" stroke-width="0.6"/>')
        elif item.kind in ("line", "dashed"):
            dash = ' stroke-dasharray="5 3"' if item.kind == "dashed" else ""
            out.append(f'<line x1="{num(cx)}" y1="{num(mid)}" x2="{num(cx + 16)}" y2="{num(mid)}" '
                       f'stroke="{item.color}" stroke-width="2.5"{dash}/>'
                       f'<circle cx="{num(cx + 8)}" cy="{num(mid)}" r="3" fill="{item.color}"/>')
        elif item.kind == "interval":
            out.append(f'<line x1="{num(cx)}" y1="{num(mid)}" x2="{num(cx + 16)}" y2="{num(mid)}" '
                       f'stroke="{item.color}" stroke-width="2"/>'
                       f'<circle cx="{num(cx + 8)}" cy="{num(mid)}" r="4" fill="{item.color}"/>')
        else:
            out.append(f'<circle cx="{num(cx + 7)}" cy="{num(mid)}" r="5" fill="{item.color}"/>')
        out.append(f'<text x="{num(cx + 22)}" y="{num(mid + 4)}" fill="{INK}">{esc(item.label)}</text>')
        cx += w
    out.append("</g>")
    return out, cy + row_h - y


def _y_axis(scale: Scale, ticks: Sequence[float], x0: float, x1: float, fmt: Callable[[float], str],
            label: str, label_x: float) -> list[str]:
    out = ['<g class="axis y-axis">']
    for t in ticks:
        y = scale(t)
        out.append(f'<line x1="{num(x0)}" y1="{num(y)}" x2="{num(x1)}" y2="{num(y)}" stroke="{GRID}"/>')
        out.append(f'<text x="{num(x0 - 6)}" y="{num(y + 4)}" text-anchor="end" fill="{MUTED}">{esc(fmt(t))}</text>')
    mid = (scale.r0 + scale.r1) / 2
    out.append(f'<text class="axis-label" transform="translate({num(label_x)},{num(mid)}) rotate(-90)" '
               f'text-anchor="middle" fill="{INK}">{esc(label)}</text>')
    out.append("</g>")
    return out


def _x_value_axis(scale: Scale, ticks: Sequence[float], y0: float, y1: float, fmt: Callable[[float], str],
                  label: str | None, grid: bool = True) -> list[str]:
    """A horizontal value axis at y1 with vertical grid lines from y0."""
    out = ['<g class="axis x-axis">',
           f'<line x1="{num(scale.r0)}" y1="{num(y1)}" x2="{num(scale.r1)}" y2="{num(y1)}" stroke="{AXIS}"/>']
    for t in ticks:
        x = scale(t)
        if grid:
            out.append(f'<line x1="{num(x)}" y1="{num(y0)}" x2="{num(x)}" y2="{num(y1)}" stroke="{GRID}"/>')
        out.append(f'<text x="{num(x)}" y="{num(y1 + 15)}" text-anchor="middle" fill="{MUTED}">{esc(fmt(t))}</text>')
    if label:
        out.append(f'<text class="axis-label" x="{num((scale.r0 + scale.r1) / 2)}" y="{num(y1 + 34)}" '
                   f'text-anchor="middle" fill="{INK}">{esc(label)}</text>')
    out.append("</g>")
    return out


# ------------------------------------------------------------------ line chart


@dataclass
class Series:
    name: str
    values: list[float | None]
    color: str
    dashed: bool = False


def line_chart(chart_id: str, title: str, x_labels: Sequence[str], series: Sequence[Series], *,
               x_label: str, y_label: str, y_max: float | None = None,
               y_fmt: Callable[[float], str] = lambda v: fmt_pct(v, 0),
               value_fmt: Callable[[float], str] = fmt_pct, width: float = 960, plot_height: float = 280) -> str:
    """Values per category (dates) as lines with a dot per point; None leaves a gap."""
    n = len(x_labels)
    values = [v for s in series for v in s.values if v is not None]
    top = y_max if y_max is not None else nice_max(values)
    ticks = nice_ticks(0, top)
    top = ticks[-1]
    left = 16 + max(text_width(y_fmt(t)) for t in ticks) + 18
    out_legend, legend_h = legend([LegendItem(s.name, s.color, "dashed" if s.dashed else "line") for s in series],
                                  left, TITLE_FONT + 12, width - left - 10)
    top_y = TITLE_FONT + 12 + legend_h + 12
    plot_w = width - left - 24
    step = plot_w / max(1, n)
    xs = [left + step * (i + 0.5) for i in range(n)]
    longest = max((text_width(lbl) for lbl in x_labels), default=0)
    every = max(1, math.ceil((longest + 12) / step))  # thin labels so they never overlap
    height = top_y + plot_height + 48
    y = Scale(0, top, top_y + plot_height, top_y)
    out = _open(width, height, title, chart_id) + out_legend
    out += _y_axis(y, ticks, left, left + plot_w, y_fmt, y_label, 14)
    base = top_y + plot_height
    out.append(f'<g class="axis x-axis"><line x1="{num(left)}" y1="{num(base)}" x2="{num(left + plot_w)}" '
               f'y2="{num(base)}" stroke="{AXIS}"/>')
    for i, (x, lbl) in enumerate(zip(xs, x_labels)):
        if (n - 1 - i) % every == 0:  # counted from the end: the latest date always has its label
            out.append(f'<line x1="{num(x)}" y1="{num(base)}" x2="{num(x)}" y2="{num(base + 4)}" stroke="{AXIS}"/>')
            out.append(f'<text x="{num(x)}" y="{num(base + 17)}" text-anchor="middle" fill="{MUTED}">{esc(lbl)}</text>')
    out.append(f'<text class="axis-label" x="{num(left + plot_w / 2)}" y="{num(base + 38)}" text-anchor="middle" '
               f'fill="{INK}">{esc(x_label)}</text></g>')
    for s in series:
        runs, cur = [], []
        for x, v in zip(xs, s.values):
            if v is None:
                if cur:
                    runs.append(cur)
                cur = []
            else:
                cur.append((x, y(v)))
        if cur:
            runs.append(cur)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<g class="series" data-series="{esc(s.name)}">')
        for run in runs:
            if len(run) > 1:
                d = "M" + " L".join(f"{num(px)} {num(py)}" for px, py in run)
                out.append(f'<path class="mark" d="{d}" fill="none" stroke="{s.color}" stroke-width="2.5"'
                           f' stroke-linejoin="round"{dash}/>')
        for x, v in zip(xs, s.values):
            if v is not None:
                out.append(f'<circle class="mark" cx="{num(x)}" cy="{num(y(v))}" r="3.5" fill="{s.color}">'
                           f'<title>{esc(s.name)}: {esc(value_fmt(v))}</title></circle>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


# ------------------------------------------------------------------ horizontal bars


@dataclass
class Segment:
    name: str
    color: str
    values: list[float]


def stacked_bars(chart_id: str, title: str, rows: Sequence[str], segments: Sequence[Segment], *,
                 x_label: str, y_label: str, notes: Sequence[str] | None = None, width: float = 960,
                 bar_height: float = 26) -> str:
    """One horizontal bar per row, split into segments; `notes` are printed after each bar."""
    totals = [sum(seg.values[i] for seg in segments) for i in range(len(rows))]
    top = nice_max(totals)
    ticks = nice_ticks(0, top)
    top = ticks[-1]
    label_w = min(220, max((text_width(r) for r in rows), default=0) + 12)
    left = 28 + label_w
    note_w = max((text_width(n) for n in (notes or [])), default=0) + 12
    right = width - 16 - note_w
    out_legend, legend_h = legend([LegendItem(s.name, s.color) for s in segments], left, TITLE_FONT + 12,
                                  width - left - 10)
    top_y = TITLE_FONT + 12 + legend_h + 10
    gap = bar_height * 0.45
    plot_h = len(rows) * (bar_height + gap)
    height = top_y + plot_h + 50
    x = Scale(0, top, left, right)
    out = _open(width, height, title, chart_id) + out_legend
    out += _x_value_axis(x, ticks, top_y, top_y + plot_h, fmt_count, x_label)
    out += _row_axis(rows, y_label, top_y, plot_h, bar_height, gap, left, label_w)
    for i, row in enumerate(rows):
        by = top_y + i * (bar_height + gap) + gap / 2
        cx = left
        for seg in segments:
            v = seg.values[i]
            if v <= 0:
                continue
            w = x(v) - x(0)
            out.append(f'<rect class="mark" x="{num(cx)}" y="{num(by)}" width="{num(max(w, 0.5))}" '
                       f'height="{num(bar_height)}" fill="{seg.color}"><title>{esc(row)} · {esc(seg.name)}: '
                       f'{esc(fmt_count(v))}</title></rect>')
            cx += w
        if notes:
            out.append(f'<text x="{num(cx + 6)}" y="{num(by + bar_height / 2 + 4)}" fill="{MUTED}">'
                       f'{esc(notes[i])}</text>')
    out.append("</svg>")
    return "\n".join(out)


@dataclass
class Panel:
    """One column of bars in `bar_panels`: values per row on their own axis."""

    name: str
    values: list[float | None]
    color: str
    domain: tuple[float, float]
    fmt: Callable[[float], str]
    base: float = 0.0  # bars grow from here (NPS from 0 in both directions, CES from 1)
    axis_label: str = ""
    legend: str = ""
    ticks: Sequence[float] | None = None  # default: round numbers across the domain
    tick_fmt: Callable[[float], str] | None = None


def bar_panels(chart_id: str, title: str, rows: Sequence[str], panels: Sequence[Panel], *, y_label: str,
               row_notes: Sequence[str] | None = None, width: float = 960, bar_height: float = 18) -> str:
    """Rows with one horizontal bar per panel, panels side by side, each with its axis (None:
    no bar, "no answers" written instead)."""
    label_rows = [r + (f"  ({row_notes[i]})" if row_notes else "") for i, r in enumerate(rows)]
    label_w = min(260, max((text_width(r) for r in label_rows), default=0) + 12)
    left = 28 + label_w
    out_legend, legend_h = legend([LegendItem(p.legend or p.name, p.color) for p in panels], left,
                                  TITLE_FONT + 12, width - left - 10)
    top_y = TITLE_FONT + 12 + legend_h + 28
    gap = 10.0
    plot_h = len(rows) * (bar_height + gap)
    height = top_y + plot_h + 52
    panel_gap = 28.0
    pw = (width - left - 16 - panel_gap * (len(panels) - 1)) / len(panels)
    out = _open(width, height, title, chart_id) + out_legend
    out += _row_axis(label_rows, y_label, top_y, plot_h, bar_height, gap, left, label_w)
    for k, p in enumerate(panels):
        x0 = left + k * (pw + panel_gap)
        x = Scale(p.domain[0], p.domain[1], x0, x0 + pw)
        ticks = p.ticks or [t for t in nice_ticks(*p.domain, count=4) if p.domain[0] - 1e-9 <= t <= p.domain[1] + 1e-9]
        out.append(f'<text x="{num(x0 + pw / 2)}" y="{num(top_y - 10)}" text-anchor="middle" font-weight="600" '
                   f'fill="{INK}">{esc(p.name)}</text>')
        out += _x_value_axis(x, ticks, top_y, top_y + plot_h, p.tick_fmt or p.fmt, p.axis_label)
        out.append(f'<line x1="{num(x(p.base))}" y1="{num(top_y)}" x2="{num(x(p.base))}" y2="{num(top_y + plot_h)}" '
                   f'stroke="{AXIS}"/>')
        for i, v in enumerate(p.values):
            by = top_y + i * (bar_height + gap) + gap / 2
            if v is None:
                out.append(f'<text x="{num(x(p.base) + 4)}" y="{num(by + bar_height / 2 + 4)}" fill="{MUTED}" '
                           f'font-style="italic">no answers</text>')
                continue
            a, b = sorted((x(p.base), x(v)))
            out.append(f'<rect class="mark" x="{num(a)}" y="{num(by)}" width="{num(max(b - a, 1))}" '
                       f'height="{num(bar_height)}" fill="{p.color}"><title>{esc(rows[i])} · {esc(p.name)}: '
                       f'{esc(p.fmt(v))}</title></rect>')
            inside = b - a > text_width(p.fmt(v)) + 10
            tx = (b - 4 if v >= p.base else a + 4) if inside else (b + 4 if v >= p.base else a - 4)
            anchor = ("end" if v >= p.base else "start") if inside else ("start" if v >= p.base else "end")
            out.append(f'<text x="{num(tx)}" y="{num(by + bar_height / 2 + 4)}" text-anchor="{anchor}" '
                       f'fill="{"#fff" if inside else INK}">{esc(p.fmt(v))}</text>')
    out.append("</svg>")
    return "\n".join(out)


# ------------------------------------------------------------------ heat map / status grid


@dataclass
class Cell:
    color: str
    text: str = ""
    tooltip: str = ""
    dark: bool = False  # white text on a dark fill


def heat_color(t: float, low: str = "#fff5eb", high: str = "#b30000") -> str:
    """A colour between `low` (t = 0) and `high` (t = 1)."""
    t = min(1.0, max(0.0, t))
    a = [int(low[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(high[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def grid_chart(chart_id: str, title: str, rows: Sequence[str], cols: Sequence[str],
               cells: Sequence[Sequence[Cell | None]], *, x_label: str, y_label: str,
               legend_items: Sequence[LegendItem], width: float = 960, cell_height: float = 26) -> str:
    """A table of coloured cells (heat map, pass/fail matrix); None cells stay blank."""
    label_w = min(260, max((text_width(r) for r in rows), default=0) + 12)
    left = 28 + label_w
    out_legend, legend_h = legend(legend_items, left, TITLE_FONT + 12, width - left - 10)
    col_w = (width - left - 16) / max(1, len(cols))
    lines = [c.split("\n") for c in cols]  # a label may have a second line
    widest = max((text_width(part, 11) for ls in lines for part in ls), default=0)
    # too wide for the columns: vertical labels, read bottom-up, never clipped at the edges
    vertical = widest > col_w - 6
    n_lines = max((len(ls) for ls in lines), default=1)
    head_h = (max((text_width(" ".join(ls), 11) for ls in lines), default=0) + 12) if vertical else 15 * n_lines + 8
    top_y = TITLE_FONT + 12 + legend_h + 12 + head_h
    height = top_y + len(rows) * cell_height + 36
    out = _open(width, height, title, chart_id) + out_legend
    for j, ls in enumerate(lines):
        cx = left + col_w * (j + 0.5)
        if vertical:
            out.append(f'<text transform="translate({num(cx + 4)},{num(top_y - 6)}) rotate(-90)" font-size="11" '
                       f'fill="{MUTED}">{esc(" ".join(ls))}</text>')
        else:
            for k, part in enumerate(ls):
                y = top_y - 7 - 14 * (len(ls) - 1 - k)
                out.append(f'<text x="{num(cx)}" y="{num(y)}" text-anchor="middle" font-size="11" '
                           f'fill="{MUTED}">{esc(part)}</text>')
    for i, r in enumerate(rows):
        ry = top_y + i * cell_height
        out.append(f'<text x="{num(left - 8)}" y="{num(ry + cell_height / 2 + 4)}" text-anchor="end" '
                   f'fill="{INK}">{esc(shorten(r, label_w))}</text>')
        for j, cell in enumerate(cells[i]):
            if cell is None:
                continue
            cx = left + col_w * j
            out.append(f'<rect class="mark" x="{num(cx + 1)}" y="{num(ry + 1)}" width="{num(col_w - 2)}" '
                       f'height="{num(cell_height - 2)}" rx="2" fill="{cell.color}">'
                       f'<title>{esc(cell.tooltip or cell.text)}</title></rect>')
            if cell.text and text_width(cell.text, 11) < col_w - 4:
                out.append(f'<text x="{num(cx + col_w / 2)}" y="{num(ry + cell_height / 2 + 4)}" '
                           f'text-anchor="middle" font-size="11" fill="{"#fff" if cell.dark else INK}">'
                           f'{esc(cell.text)}</text>')
    bottom = top_y + len(rows) * cell_height
    out.append(f'<text class="axis-label" x="{num(left + (width - left - 16) / 2)}" y="{num(bottom + 24)}" '
               f'text-anchor="middle" fill="{INK}">{esc(x_label)}</text>')
    out.append(f'<text class="axis-label" transform="translate(12,{num((top_y + bottom) / 2)}) rotate(-90)" '
               f'text-anchor="middle" fill="{INK}">{esc(y_label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


# ------------------------------------------------------------------ friction: bars + intervals


@dataclass
class IntervalRow:
    label: str
    bar: float  # lost conversions
    estimate: float | None  # conversion-rate difference (unaffected - affected)
    low: float | None
    high: float | None
    significant: bool = False
    extra: str = field(default="")


def bar_and_interval_chart(chart_id: str, title: str, rows: Sequence[IntervalRow], *, bar_label: str,
                           interval_label: str, confidence: float, width: float = 960,
                           row_height: float = 26) -> str:
    """Left: a bar per row (lost conversions); right: the estimate with its interval and a zero
    line (a difference whose interval crosses zero may be chance)."""
    label_w = min(340, max((text_width(r.label) for r in rows), default=0) + 12)
    left = 28 + label_w
    avail = width - left - 40
    bar_w = avail * 0.36
    gap = 72.0
    int_x0 = left + bar_w + gap
    int_w = avail - bar_w - gap
    sig_color, ns_color, bar_color = "#D55E00", "#9aa5b1", "#0072B2"
    items = [LegendItem(bar_label, bar_color),
             LegendItem(f"difference, {confidence:.0%} interval excludes 0", sig_color, "interval"),
             LegendItem("interval includes 0 (may be chance)", ns_color, "interval")]
    out_legend, legend_h = legend(items, left, TITLE_FONT + 12, width - left - 10)
    top_y = TITLE_FONT + 12 + legend_h + 30
    plot_h = len(rows) * row_height
    height = top_y + plot_h + 52
    bx = Scale(0, nice_max([r.bar for r in rows]), left, left + bar_w)
    bticks = nice_ticks(0, bx.d1, 4)
    bx = Scale(0, bticks[-1], left, left + bar_w)
    bounds = [v for r in rows for v in (r.low, r.high, r.estimate) if v is not None] + [0.0]
    lo, hi = max(-1.0, min(bounds)), min(1.0, max(bounds))
    iticks = nice_ticks(lo, hi, 5)
    ix = Scale(iticks[0], iticks[-1], int_x0, int_x0 + int_w)
    out = _open(width, height, title, chart_id) + out_legend
    out.append(f'<text x="{num(left + bar_w / 2)}" y="{num(top_y - 10)}" text-anchor="middle" font-weight="600" '
               f'fill="{INK}">{esc(bar_label)}</text>')
    out.append(f'<text x="{num(int_x0 + int_w / 2)}" y="{num(top_y - 10)}" text-anchor="middle" '
               f'font-weight="600" fill="{INK}">{esc(interval_label)}</text>')
    out += _x_value_axis(bx, bticks, top_y, top_y + plot_h, fmt_count, "journeys (estimated)")
    out += _x_value_axis(ix, iticks, top_y, top_y + plot_h, lambda v: f"{v * 100:+.0f} pp" if v else "0",
                         "conversion rate, unaffected − affected (pp)")
    out.append(f'<line x1="{num(ix(0))}" y1="{num(top_y)}" x2="{num(ix(0))}" y2="{num(top_y + plot_h)}" '
               f'stroke="{INK}" stroke-width="1.2"/>')
    out.append(f'<text class="axis-label" transform="translate(12,{num(top_y + plot_h / 2)}) rotate(-90)" '
               f'text-anchor="middle" fill="{INK}">friction point: touchpoint · signal (stage)</text>')
    for i, r in enumerate(rows):
        cy = top_y + i * row_height + row_height / 2
        out.append(f'<text x="{num(left - 8)}" y="{num(cy + 4)}" text-anchor="end" fill="{INK}">'
                   f'{esc(shorten(r.label, label_w))}</text>')
        w = bx(r.bar) - bx(0)
        out.append(f'<rect class="mark" x="{num(left)}" y="{num(cy - row_height * 0.32)}" width="{num(max(w, 1))}" '
                   f'height="{num(row_height * 0.64)}" fill="{bar_color}"><title>{esc(r.label)}: '
                   f'{esc(fmt_count(r.bar))} lost conversions</title></rect>')
        out.append(f'<text x="{num(left + max(w, 1) + 4)}" y="{num(cy + 4)}" fill="{MUTED}">'
                   f'{esc(fmt_count(r.bar))}</text>')
        if r.estimate is None:
            out.append(f'<text x="{num(ix(0) + 6)}" y="{num(cy + 4)}" fill="{MUTED}" font-style="italic">'
                       f'no comparable journeys</text>')
            continue
        color = sig_color if r.significant else ns_color
        lo_v = max(ix.d0, r.low if r.low is not None else r.estimate)
        hi_v = min(ix.d1, r.high if r.high is not None else r.estimate)
        tip = (f"{r.label}: difference {r.estimate * 100:+.1f} pp, {confidence:.0%} interval "
               f"[{(r.low or 0) * 100:+.1f}, {(r.high or 0) * 100:+.1f}] pp{r.extra}")
        out.append(f'<path class="mark" d="M{num(ix(lo_v))} {num(cy)} H{num(ix(hi_v))} M{num(ix(lo_v))} '
                   f'{num(cy - 5)} V{num(cy + 5)} M{num(ix(hi_v))} {num(cy - 5)} V{num(cy + 5)}" '
                   f'stroke="{color}" stroke-width="2" fill="none"><title>{esc(tip)}</title></path>')
        out.append(f'<circle class="mark" cx="{num(ix(r.estimate))}" cy="{num(cy)}" r="4.5" fill="{color}">'
                   f'<title>{esc(tip)}</title></circle>')
    out.append("</svg>")
    return "\n".join(out)


def _row_axis(rows, y_label: str, top_y: float, plot_h: float, bar_height: float, gap: float,
              left: float, label_w: int) -> list[str]:
    """The vertical axis title and one label per bar row of a horizontal bar chart."""
    out = [f'<text class="axis-label" transform="translate(12,{num(top_y + plot_h / 2)}) rotate(-90)" '
           f'text-anchor="middle" fill="{INK}">{esc(y_label)}</text>']
    for i, row in enumerate(rows):
        by = top_y + i * (bar_height + gap) + gap / 2
        out.append(f'<text x="{num(left - 8)}" y="{num(by + bar_height / 2 + 4)}" text-anchor="end" '
                   f'fill="{INK}">{esc(shorten(row, label_w))}</text>')
    return out
