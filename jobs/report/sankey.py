"""The journey Sankey: from `journey_paths` transitions to a layout, then to SVG paths.

`journey_paths` counts every journey's move from its n-th stage to the next, the last move
ending at its outcome. Each column of the diagram is a step position; outcomes are gathered
in one last column so they line up however long the journey was. Columns stop after
`max_steps` positions: the moves beyond are folded into one "later steps" node, which keeps
the flow balanced because every journey with a later step also has exactly one outcome move
from a later step.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from jobs.report.svg import INK, MUTED, FONT, TITLE_FONT, LegendItem, _open, esc, fmt_count, legend, num, text_width

OUTCOMES = ("(converted)", "(open)", "(dropped)")
LATER = "later steps"
OUTCOME_COLORS = {"(converted)": "#009E73", "(open)": "#9aa5b1", "(dropped)": "#D55E00"}


@dataclass(frozen=True)
class Flow:
    source: tuple[int, str]  # (column, node name)
    target: tuple[int, str]
    value: float


def flows_from_transitions(transitions: Iterable[tuple[int, str, str, float]], max_steps: int = 5) -> list[Flow]:
    """(step_index, from_step, to_step, journeys) rows, summed over days -> flows between columns."""
    rows = [(int(i), f, t, float(v)) for i, f, t, v in transitions if v > 0]
    out_col = -1  # outcomes' column, set once the deepest step column is known
    sums: dict[tuple, float] = defaultdict(float)
    for i, f, t, v in rows:
        if i > max_steps:
            if t in OUTCOMES:  # moves among later steps stay inside the folded node
                sums[((max_steps + 1, LATER), (out_col, t))] += v
            continue
        if t in OUTCOMES:
            dst = (out_col, t)
        elif i == max_steps:
            dst = (max_steps + 1, LATER)
        else:
            dst = (i + 1, t)
        sums[((i, f), dst)] += v
    deepest = max((c for (src, dst) in sums for c in (src[0], dst[0]) if c != out_col), default=0)
    placed = defaultdict(float)
    for (src, dst), v in sums.items():
        placed[(src, (deepest + 1, dst[1]) if dst[0] == out_col else dst)] += v
    return [Flow(s, t, v) for (s, t), v in sorted(placed.items())]


@dataclass
class Node:
    column: int
    name: str
    value_in: float = 0.0
    value_out: float = 0.0
    x: float = 0.0
    y: float = 0.0
    height: float = 0.0

    @property
    def value(self) -> float:
        return max(self.value_in, self.value_out)

    @property
    def key(self) -> tuple[int, str]:
        return (self.column, self.name)


@dataclass
class Link:
    flow: Flow
    width: float = 0.0
    y_source: float = 0.0  # top of the band where it leaves the source node
    y_target: float = 0.0  # top of the band where it enters the target node


@dataclass
class Layout:
    nodes: dict[tuple[int, str], Node]
    links: list[Link]
    node_width: float
    scale: float  # pixels per journey
    columns: list[int] = field(default_factory=list)


def layout(flows: Sequence[Flow], *, x0: float, x1: float, y0: float, y1: float, node_width: float = 14,
           node_gap: float = 14, order: Callable[[str], tuple] = lambda name: (name,)) -> Layout:
    """Place nodes in columns (ordered by `order`, centred vertically) and stack each node's
    links so that a band keeps its width from source to target."""
    nodes: dict[tuple[int, str], Node] = {}
    for f in flows:
        nodes.setdefault(f.source, Node(*f.source)).value_out += f.value
        nodes.setdefault(f.target, Node(*f.target)).value_in += f.value
    columns = sorted({k[0] for k in nodes})
    by_col = {c: sorted((n for n in nodes.values() if n.column == c), key=lambda n: (order(n.name), n.name))
              for c in columns}
    height = y1 - y0
    # one scale for the whole diagram, set by the fullest column, so widths compare across columns
    scale = min(((height - node_gap * (len(ns) - 1)) / sum(n.value for n in ns) for ns in by_col.values()
                 if sum(n.value for n in ns) > 0), default=0.0)
    scale = max(scale, 0.0)
    span = (x1 - x0 - node_width) / max(1, len(columns) - 1)
    for k, c in enumerate(columns):
        ns = by_col[c]
        used = sum(n.value for n in ns) * scale + node_gap * (len(ns) - 1)
        y = y0 + (height - used) / 2
        for n in ns:
            n.x, n.y, n.height = x0 + k * span, y, n.value * scale
            y += n.height + node_gap
    links = [Link(f, f.value * scale) for f in flows]
    out_by = defaultdict(list)
    in_by = defaultdict(list)
    for link in links:
        out_by[link.flow.source].append(link)
        in_by[link.flow.target].append(link)
    for key, ls in out_by.items():
        y = nodes[key].y
        for link in sorted(ls, key=lambda l: (nodes[l.flow.target].y, l.flow.target)):
            link.y_source, y = y, y + link.width
    for key, ls in in_by.items():
        y = nodes[key].y
        for link in sorted(ls, key=lambda l: (nodes[l.flow.source].y, l.flow.source)):
            link.y_target, y = y, y + link.width
    return Layout(nodes, links, node_width, scale, columns)


def band_path(x_from: float, y_from: float, x_to: float, y_to: float, width: float) -> str:
    """A band of constant width between two vertical edges, as two cubic curves."""
    xm = (x_from + x_to) / 2
    return (f"M{num(x_from)} {num(y_from)} C{num(xm)} {num(y_from)} {num(xm)} {num(y_to)} {num(x_to)} {num(y_to)} "
            f"L{num(x_to)} {num(y_to + width)} C{num(xm)} {num(y_to + width)} {num(xm)} {num(y_from + width)} "
            f"{num(x_from)} {num(y_from + width)} Z")


def sankey_chart(chart_id: str, title: str, flows: Sequence[Flow], colors: dict[str, str], *,
                 order: Callable[[str], tuple], width: float = 960, plot_height: float = 420,
                 x_label: str = "step of the journey") -> str:
    names = sorted({f.source[1] for f in flows} | {f.target[1] for f in flows}, key=lambda n: (order(n), n))
    items = [LegendItem(n, colors.get(n, "#7b8794")) for n in names]
    out_legend, legend_h = legend(items, 0, TITLE_FONT + 12, width)
    top = TITLE_FONT + 12 + legend_h + 26
    label_room = max((text_width(f"{n} 000,000") for n in names), default=0)
    lay = layout(flows, x0=4, x1=width - label_room - 8, y0=top, y1=top + plot_height, order=order)
    height = top + plot_height + 44
    out = _open(width, height, title, chart_id) + out_legend
    last = lay.columns[-1] if lay.columns else 0
    for k, c in enumerate(lay.columns):
        x = next(n.x for n in lay.nodes.values() if n.column == c) + lay.node_width / 2
        head = "outcome" if c == last else (LATER if any(n.name == LATER for n in lay.nodes.values()
                                                             if n.column == c) else f"step {c}")
        out.append(f'<text x="{num(max(x, 4))}" y="{num(top - 10)}" text-anchor="{"start" if k == 0 else "middle"}" '
                   f'fill="{MUTED}">{esc(head)}</text>')
    out.append('<g class="links">')
    for link in sorted(lay.links, key=lambda l: (-l.width, l.flow.source, l.flow.target)):
        s, t = lay.nodes[link.flow.source], lay.nodes[link.flow.target]
        d = band_path(s.x + lay.node_width, link.y_source, t.x, link.y_target, max(link.width, 0.5))
        color = colors.get(t.name if t.name in OUTCOMES else s.name, "#7b8794")
        out.append(f'<path class="mark link" d="{d}" fill="{color}" fill-opacity="0.35">'
                   f'<title>{esc(s.name)} → {esc(t.name)}: {esc(fmt_count(link.flow.value))} journeys</title></path>')
    out.append('</g><g class="nodes">')
    for n in sorted(lay.nodes.values(), key=lambda n: n.key):
        out.append(f'<rect class="mark node" x="{num(n.x)}" y="{num(n.y)}" width="{num(lay.node_width)}" '
                   f'height="{num(max(n.height, 1))}" fill="{colors.get(n.name, "#7b8794")}">'
                   f'<title>{esc(n.name)}: {esc(fmt_count(n.value))} journeys</title></rect>')
        if n.height >= FONT - 2 or n.column == last:
            out.append(f'<text class="node-label" x="{num(n.x + lay.node_width + 4)}" '
                       f'y="{num(n.y + n.height / 2 + 4)}" font-size="11" fill="{INK}" stroke="#fff" '
                       f'stroke-width="3" paint-order="stroke">{esc(n.name)} {esc(fmt_count(n.value))}</text>')
    out.append("</g>")
    out.append(f'<text class="axis-label" x="{num(width / 2)}" y="{num(top + plot_height + 30)}" '
               f'text-anchor="middle" fill="{INK}">{esc(x_label)} → (band width = journeys)</text>')
    out.append("</svg>")
    return "\n".join(out)
