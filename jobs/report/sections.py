"""The report's sections: each turns the rows of jobs.report.data into a chart, a table and a
few words, or into a "no data for …" note when the range has nothing to show."""
from __future__ import annotations

from datetime import date
from typing import Sequence

from jobs.report import data
from jobs.report.page import Card, Section, cards, figure, no_data, table
from jobs.report.sankey import LATER, OUTCOME_COLORS, OUTCOMES, flows_from_transitions, sankey_chart
from jobs.report.svg import (PALETTE, STAGE_PALETTE, Cell, IntervalRow, LegendItem, Panel, Segment, Series, bar_and_interval_chart,
                             bar_panels, esc, fmt_count, fmt_pct, grid_chart, heat_color, line_chart, stacked_bars)

NEUTRAL = "#9aa5b1"


def stage_colors(stages: Sequence[str]) -> dict[str, str]:
    """A stage keeps its colour in every chart."""
    colors = {s: STAGE_PALETTE[i % len(STAGE_PALETTE)] for i, s in enumerate(stages)}
    return colors | {"(no stage)": "#7b8794", "…": "#7b8794", LATER: "#7b8794"} | OUTCOME_COLORS


def _empty(anchor: str, title: str, source: str, what: str) -> Section:
    return Section(anchor, title, source, no_data(what), empty=True)


def _range(date_from: date, date_to: date) -> str:
    return f"{date_from.isoformat()} to {date_to.isoformat()}" if date_from != date_to else date_from.isoformat()


def _pp(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} pp"


# ------------------------------------------------------------------ 1


def conversion_over_time(trend: data.StageTrend | None, totals: data.JourneyTotals, colors: dict,
                         date_from: date, date_to: date) -> Section:
    title, anchor = "Stage conversion over time", "conversion"
    if trend is None:
        return _empty(anchor, title, "stage_funnel, journeys",
                      f"stage conversion: no journey started between {_range(date_from, date_to)}")
    unit = "week (Monday) of journey start" if trend.weekly else "journey start date"
    labels = [p.isoformat() for p in trend.periods]
    series = [Series(s, trend.reach_rate(s), colors[s]) for s in trend.stages]
    series.append(Series("converted (any path)", trend.conversion_rate(), OUTCOME_COLORS["(converted)"], dashed=True))
    chart = line_chart("chart-conversion", f"Share of journeys reaching each stage, per {unit}", labels, series,
                       x_label=unit, y_label="journeys reaching the stage (%)")
    rows = [[p.isoformat(), fmt_count(trend.started[i]),
             *[fmt_pct(trend.reach_rate(s)[i]) for s in trend.stages], fmt_pct(trend.conversion_rate()[i])]
            for i, p in enumerate(trend.periods)]
    body = (f'<p class="note">A stage counts as reached when it comes after every earlier stage, in order (closed '
            f"funnel). The dashed line is the share of journeys that converted, whichever way. Journeys still "
            f"open convert later, so the last {'weeks' if trend.weekly else 'days'} read low until they settle.</p>"
            + figure(chart)
            + table(["period", "journeys", *trend.stages, "converted"], rows, [False] + [True] * (len(trend.stages) + 2)))
    return Section(anchor, title, f"stage_funnel (breakdown all) and journeys, per {unit}", body)


# ------------------------------------------------------------------ 2


def dropoff(stages: list[data.StageDropoff], breakdowns: list[data.BreakdownDropoff], totals: data.JourneyTotals,
            date_from: date, date_to: date) -> Section:
    title, anchor = "Drop-off by stage and breakdown", "dropoff"
    source = "stage_funnel (closed funnel), by journey start date"
    if not stages:
        return _empty(anchor, title, source,
                      f"drop-off: no journey started between {_range(date_from, date_to)}")
    segs = [Segment("moved on to the next stage", "#56B4E9", [s.progressed for s in stages]),
            Segment("converted from here", OUTCOME_COLORS["(converted)"], [s.converted for s in stages]),
            Segment("still open here", NEUTRAL, [s.in_progress for s in stages]),
            Segment("dropped here", OUTCOME_COLORS["(dropped)"], [s.dropped for s in stages])]
    notes = [f"drop-off {fmt_pct(s.dropoff_rate)}" for s in stages]
    chart = stacked_bars("chart-dropoff", "Where the journeys that reached each stage ended up",
                         [s.stage for s in stages], segs, x_label="journeys that reached the stage (closed funnel)",
                         y_label="stage", notes=notes)
    rows = [[s.stage, fmt_count(s.reached_closed), fmt_count(s.progressed), fmt_count(s.converted),
             fmt_count(s.in_progress), fmt_count(s.dropped), fmt_pct(s.dropoff_rate), fmt_count(s.dropped_open_funnel)]
            for s in stages]
    outside = totals.started - stages[0].reached_closed
    body = [f'<p class="note">Each bar is one stage\'s journeys, split by what happened next: a journey is a '
            f"drop-off at the furthest stage it reached in order. {fmt_count(outside)} of "
            f"{fmt_count(totals.started)} journeys did not start at the first stage and are not in the closed "
            f"funnel; the last column counts dropped journeys at their furthest stage in any order.</p>",
            *([f'<p class="note">No journey of this range has dropped yet: a journey counts as dropped only '
               f"after journeys.journey_timeout_days without an event, so recent journeys are still open "
               f"({fmt_count(totals.open)} of them).</p>"] if not totals.dropped and totals.open else []),
            figure(chart),
            table(["stage", "reached", "moved on", "converted here", "still open", "dropped", "drop-off rate",
                   "dropped (open funnel)"], rows, [False] + [True] * 7)]
    if not breakdowns:
        body.append(no_data("drop-off by breakdown: stage_funnel has no breakdown rows in this range"))
    for b in breakdowns:
        worst = max((b.rate(v, s) or 0 for v in b.values for s in b.stages), default=0)
        cells = []
        for v in b.values:
            row = []
            for s in b.stages:
                rate, reached = b.rate(v, s), b.reached_closed.get((v, s), 0)
                if rate is None:
                    row.append(Cell("#f5f7fa", "–", f"{v} · {s}: nobody reached the stage"))
                    continue
                t = rate / worst if worst else 0.0
                row.append(Cell(heat_color(t), fmt_pct(rate, 0),
                                f"{v} · {s}: {b.dropped.get((v, s), 0)} of {reached} dropped ({fmt_pct(rate)})",
                                dark=t > 0.6))
            cells.append(row)
        chart = grid_chart(f"chart-dropoff-{b.breakdown}", f"Drop-off rate by stage and {b.breakdown}",
                           [f"{v} ({fmt_count(b.started[v])})" for v in b.values], b.stages, cells,
                           x_label="stage", y_label=f"{b.breakdown} (journeys)",
                           legend_items=[LegendItem("no drop-off", heat_color(0)),
                                         *([LegendItem(f"highest drop-off here ({fmt_pct(worst, 0)})", heat_color(1))]
                                           if worst else []),
                                         LegendItem("nobody reached the stage", "#f5f7fa")])
        hidden = len(b.started) - len(b.values)
        more = f'<p class="note">{hidden} smaller {esc(b.breakdown)} values not shown.</p>' if hidden > 0 else ""
        body.append(figure(chart) + more)
    return Section(anchor, title, source, "".join(body))


# ------------------------------------------------------------------ 3


def friction(points: list[data.FrictionPoint], confidence: float, date_from: date, date_to: date,
             chart_rows: int = 15, table_rows: int = 25) -> Section:
    title, anchor = "Friction points by lost conversions", "friction"
    source = "friction_points (breakdown all), by journey start date"
    if not points:
        return _empty(anchor, title, source,
                      f"friction points: none recorded for journeys started {_range(date_from, date_to)}")
    top = points[:chart_rows]
    rows = [data_row for data_row in (
        IntervalRow(f"{p.touchpoint} · {p.signal} ({p.stage})", p.lost_conversions, p.difference, p.ci_low, p.ci_high, p.significant,
                    f"; {p.journeys_affected} affected journeys") for p in top)]
    chart = bar_and_interval_chart("chart-friction", f"Top {len(top)} friction points: lost conversions and the "
                                   f"conversion gap", rows, bar_label="lost conversions",
                                   interval_label=f"conversion gap with {confidence:.0%} interval",
                                   confidence=confidence)
    table_data = [[p.rank, p.touchpoint, p.stage, p.signal, fmt_count(p.journeys_affected),
                   fmt_pct(p.affected_rate), fmt_pct(p.unaffected_rate),
                   _pp(p.difference) + ("" if p.ci_low is None else
                                        f" ({p.ci_low * 100:+.1f} … {p.ci_high * 100:+.1f})"),
                   fmt_count(round(p.lost_conversions, 1))]
                  for p in points[:table_rows]]
    body = (f'<p class="note">A friction point is a touchpoint, stage and signal. Its journeys are compared with '
            f"journeys of the same start date that reached the same stage without it: lost conversions = affected "
            f"journeys × the gap in conversion rate (when positive), summed over the start dates. The interval is "
            f"the {confidence:.0%} Wald interval on the summed counts; where it includes 0 the gap may be chance. "
            f"{len(points)} points in all.</p>"
            + figure(chart)
            + table(["#", "touchpoint", "stage", "signal", "affected journeys", "affected conversion",
                     "comparable conversion", f"gap, pp ({confidence:.0%} interval)", "lost conversions"],
                    table_data, [True, False, False, False, True, True, True, True, True], wrap=[7]))
    return Section(anchor, title, source, body)


# ------------------------------------------------------------------ 4


def sankey(transitions: list[tuple[int, str, str, int]], paths: list[dict], stages: Sequence[str], colors: dict,
           date_from: date, date_to: date, max_steps: int = 4) -> Section:
    title, anchor = "Journey Sankey", "sankey"
    source = "journey_paths (path type stage), by journey start date"
    flows = flows_from_transitions(transitions, max_steps=max_steps)
    if not flows:
        return _empty(anchor, title, source,
                      f"the journey Sankey: no stage paths for journeys started {_range(date_from, date_to)}")
    rank = {s: i for i, s in enumerate(stages)}

    def order(name: str) -> tuple:
        if name in OUTCOMES:
            return (2, OUTCOMES.index(name))
        return (0, rank[name]) if name in rank else (1, 0)

    chart = sankey_chart("chart-sankey", "Stage-to-stage flow of journeys, ending at their outcome", flows, colors,
                         order=order)
    rows = [[r["path"], fmt_count(r["journeys"]), fmt_count(r["converted"]), fmt_pct(r["converted"] / r["journeys"])]
            for r in paths]
    body = (f'<p class="note">Each column is a position in the journey\'s stage path (repeats collapsed), the last '
            f"column its outcome as of the latest run. Moves after step {max_steps} are folded into "
            f'"{LATER}". Hover a band for its journeys.</p>' + figure(chart)
            + "<h3>Most frequent stage paths</h3>"
            + (table(["path", "journeys", "converted", "conversion"], rows, [False, True, True, True], wrap=[0])
               if rows else no_data("stage paths in this range")))
    return Section(anchor, title, source, body)


# ------------------------------------------------------------------ 5


def experience(rows: list[dict], date_from: date, date_to: date, chart_rows: int = 15,
               table_rows: int = 20) -> Section:
    title, anchor = "NPS, CES and CSAT by touchpoint", "experience"
    source = "touchpoints, by journey start date (scores weighted by their answers)"
    if not rows:
        return _empty(anchor, title, source,
                      f"touchpoints: no events of journeys started {_range(date_from, date_to)}")
    rated = [r for r in rows if r["nps_responses"] + r["ces_responses"] + r["csat_responses"] > 0][:chart_rows]
    if rated:
        chart = figure(bar_panels(
            "chart-experience", "Customer experience scores by touchpoint", [r["touchpoint"] for r in rated],
            [Panel("NPS", [r["nps"] for r in rated], "#0072B2", (-100, 100), lambda v: f"{v:+.0f}", 0.0,
                   "Net Promoter Score", "NPS (−100…100)"),
             Panel("CES", [r["ces"] for r in rated], "#E69F00", (1, 7), lambda v: f"{v:.1f}", 1.0,
                   "mean effort score (7 = easiest)", "CES (1…7)", ticks=range(1, 8), tick_fmt=lambda v: f"{v:g}"),
             Panel("CSAT", [r["csat"] for r in rated], "#009E73", (0, 1), lambda v: f"{v * 100:.0f}%", 0.0,
                   "satisfied answers (4–5 of 5)", "CSAT (% satisfied)")],
            y_label="touchpoint (survey answers)",
            row_notes=[fmt_count(r["nps_responses"] + r["ces_responses"] + r["csat_responses"]) for r in rated]))
    else:
        chart = no_data("survey scores: no NPS, CES or CSAT answers in this range")

    def score(v, n, fmt):
        return "–" if v is None else f"{fmt(v)} ({fmt_count(n)})"

    table_data = [[r["touchpoint"], fmt_count(r["events"]), fmt_pct(r["friction_rate"]),
                   score(r["nps"], r["nps_responses"], lambda v: f"{v:+.0f}"),
                   score(r["ces"], r["ces_responses"], lambda v: f"{v:.2f}"),
                   score(r["csat"], r["csat_responses"], lambda v: fmt_pct(v, 0))] for r in rows[:table_rows]]
    more = (f'<p class="note">{len(rows) - table_rows} more touchpoints not listed.</p>'
            if len(rows) > table_rows else "")
    body = ('<p class="note">NPS: % promoters (9–10) minus % detractors (0–6), in points. CES: mean answer on 1–7, '
            "higher is easier. CSAT: share of 4–5 answers on 1–5. Answers in brackets.</p>" + chart
            + table(["touchpoint", "events", "friction rate", "NPS (answers)", "CES (answers)", "CSAT (answers)"],
                    table_data, [False, True, True, True, True, True]) + more)
    return Section(anchor, title, source, body)


# ------------------------------------------------------------------ 6


def run_health(runs: list[dict], reasons: list[dict], reasons_from: str, suites: list[data.SuiteResult],
               date_from: date, date_to: date) -> Section:
    title, anchor = "Run health", "runs"
    source = "pipeline_runs by run date; validation results in <warehouse>/_validation/"
    parts = ["<h3>Reconciliation per run and source</h3>"]
    if runs:
        off = sum(1 for r in runs if not r["balances"])
        parts.append(f'<p class="note">rows_in = out + quarantined + duplicate + bot must hold for every source of every '
                     f"run (build step: events in the window = journey events written). "
                     f"{'All ' + str(len(runs)) + ' rows balance.' if not off else str(off) + ' rows do NOT balance.'}"
                     f"</p>")
        fields = ("rows_in", "rows_out", "rows_quarantined", "rows_duplicate", "rows_bot", "rows_late")
        per_source: dict[tuple[str, str], dict] = {}
        for r in runs:
            t = per_source.setdefault((r["step"], r["source"]), {f: 0 for f in fields} | {"runs": 0, "off": 0})
            for f in fields:
                t[f] += r[f]
            t["runs"] += 1
            t["off"] += not r["balances"]
        parts.append(table(["step", "source", "runs", "rows in", "out", "quarantined", "duplicate", "bot", "late",
                            "balanced"],
                           [[step, src, t["runs"], *(fmt_count(t[f]) for f in fields),
                             "yes" if not t["off"] else f"NO ({t['off']} runs)"]
                            for (step, src), t in sorted(per_source.items())],
                           [False, False] + [True] * 7 + [False],
                           ["bad" if t["off"] else "" for _, t in sorted(per_source.items())]))
        rows, classes = [], []
        for r in runs:
            rows.append([_run_name(r["run_date"], r["run_id"]), r["step"], r["source"],
                         fmt_count(r["rows_in"]), fmt_count(r["rows_out"]), fmt_count(r["rows_quarantined"]),
                         fmt_count(r["rows_duplicate"]), fmt_count(r["rows_bot"]), fmt_count(r["rows_late"]),
                         ("yes" if r["balances"] else "NO") + ("" if r["status"] == "succeeded" else f", {r['status']}")])
            classes.append("" if r["balances"] and r["status"] == "succeeded" else "bad")
        detail = table(["run", "step", "source", "rows in", "out", "quarantined", "duplicate", "bot", "late",
                        "balanced"], rows, [False] * 3 + [True] * 6 + [False], classes)
        # a month of runs is a long table: folded unless something is wrong or it is short
        is_open = " open" if off or len(rows) <= 40 else ""
        parts.append(f"<details{is_open}><summary>every run and source ({len(rows)} rows)</summary>{detail}</details>")
    else:
        parts.append(no_data(f"pipeline runs: no run dated {_range(date_from, date_to)}"))

    if reasons:
        codes = sorted({r["reason"] for r in reasons}, key=lambda c: (-sum(x["rows"] for x in reasons
                                                                           if x["reason"] == c), c))
        sources = sorted({r["source"] for r in reasons})
        counts = {(r["reason"], r["source"]): int(r["rows"]) for r in reasons}
        segs = [Segment(s, PALETTE[i % len(PALETTE)], [counts.get((c, s), 0) for c in codes])
                for i, s in enumerate(sources)]
        notes = [fmt_count(sum(counts.get((c, s), 0) for s in sources)) for c in codes]
        parts.append(figure(stacked_bars("chart-quarantine", "Quarantined rows by reason code and source", codes,
                                         segs, x_label="rows quarantined", y_label="reason code", notes=notes,
                                         bar_height=20)))
        parts.append(f'<p class="note">Counts from {esc(reasons_from)}; the rows themselves stay in the restricted '
                     f"quarantine table (they may hold personal data). Reason codes: docs/quarantine.md.</p>")
    else:
        parts.append("<h3>Quarantined rows by reason</h3>")
        parts.append(no_data(f"quarantine: no row quarantined in runs dated {_range(date_from, date_to)}"))

    parts.append("<h3>Validation results</h3>")
    if suites:
        runs_seen = sorted({(s.run_date, s.run) for s in suites})
        names = sorted({s.suite for s in suites})
        by = {(s.suite, s.run): s for s in suites}
        colors = {"passed": "#2f9e44", "warnings": "#f2c94c", "failed": "#c0392b"}

        def state(s: data.SuiteResult) -> str:
            return "failed" if not s.success else "warnings" if s.warnings else "passed"

        col_labels = [_run_label(d, run, runs_seen) for d, run in runs_seen]
        cells = [[None if (n, run) not in by else
                  Cell(colors[state(by[(n, run)])], state(by[(n, run)]),
                       f"{n} · {run}: {state(by[(n, run)])}, {by[(n, run)].evaluated} expectations, "
                       f"{len(by[(n, run)].critical_failures)} critical failures, {len(by[(n, run)].warnings)} warnings",
                       dark=state(by[(n, run)]) != "warnings")
                  for _, run in runs_seen] for n in names]
        parts.append(figure(grid_chart("chart-validation", "Great Expectations suites per run", names, col_labels,
                                       cells, x_label="run", y_label="suite",
                                       legend_items=[LegendItem(k, v) for k, v in colors.items()]
                                       + [LegendItem("not run", "#ffffff")])))
        rows, classes = [], []
        for s in suites:
            rows.append([_run_name(s.run_date, s.run), s.suite, state(s), s.evaluated,
                         "" if s.row_count is None else fmt_count(s.row_count), len(s.critical_failures),
                         len(s.warnings)])
            classes.append("bad" if not s.success else "")
        detail = table(["run", "suite", "result", "expectations", "rows", "critical failures", "warnings"], rows,
                       [False, False, False, True, True, True, True], classes)
        failed = sum(1 for s in suites if not s.success)
        is_open = " open" if failed or len(rows) <= 40 else ""
        parts.append(f"<details{is_open}><summary>every suite of every run ({len(rows)} rows, {failed} failed)"
                     f"</summary>{detail}</details>")
        messages = [(s, m) for s in suites for m in s.critical_failures + s.warnings]
        if messages:
            items = "".join(f"<li><b>{esc(s.run)} · {esc(s.suite)}</b>: {esc(m)}</li>" for s, m in messages[:200])
            parts.append(f"<details><summary>{len(messages)} failure and warning messages</summary>"
                         f'<ul class="messages">{items}</ul></details>')
    else:
        parts.append(no_data(f"validation: no suite results for runs dated {_range(date_from, date_to)}"))
    return Section(anchor, title, source, "".join(parts), empty=not runs and not suites and not reasons)


def _run_name(day: date | None, run: str) -> str:
    """The run id, with its date in front unless the id starts with it (pipeline runs do)."""
    if day is None or run.startswith(day.isoformat()):
        return run
    return f"{day.isoformat()} · {run}"


def _run_label(day: date | None, run: str, runs_seen: list) -> str:
    """A run's column: its date, and on a second line which run when a date has several (a
    night validates its raw sources in the normalize run and its outputs in `<date>-outputs`)."""
    if day is None:
        return run
    same_day = [r for d, r in runs_seen if d == day]
    if len(same_day) == 1:
        return day.isoformat()
    kinds = ["outputs" if r.endswith("outputs") else "inputs" for r in same_day]
    kind = kinds[same_day.index(run)]
    if kinds.count(kind) > 1:
        kind += f" {kinds[:same_day.index(run) + 1].count(kind)}"
    return f"{day.isoformat()}\n{kind}"


# ------------------------------------------------------------------ headline


def headline(totals: data.JourneyTotals, stages: list[data.StageDropoff], points: list[data.FrictionPoint],
             runs: list[dict], reasons: list[dict], suites: list[data.SuiteResult]) -> str:
    items = [Card(fmt_count(totals.started), "journeys started")]
    if totals.started:
        items += [Card(fmt_pct(totals.converted / totals.started), f"converted ({fmt_count(totals.converted)})", "good"),
                  Card(fmt_pct(totals.dropped / totals.started), f"dropped ({fmt_count(totals.dropped)})"),
                  Card(fmt_count(totals.open), "still open")]
    worst = max(stages, key=lambda s: (s.dropped, -s.stage_order), default=None)
    if worst and worst.dropped:
        items.append(Card(worst.stage, f"most drop-offs: {fmt_count(worst.dropped)} ({fmt_pct(worst.dropoff_rate)})"))
    if points and points[0].lost_conversions > 0:
        p = points[0]
        items.append(Card(fmt_count(round(p.lost_conversions, 1)),
                          f"conversions lost at the top friction point: {p.touchpoint} · {p.signal} ({p.stage})"))
    if runs:
        off = sum(1 for r in runs if not r["balances"])
        n = len({r["run_id"] for r in runs})
        items.append(Card(f"{n} run{'s' if n != 1 else ''}", "all books balance" if not off
                          else f"{off} rows do not balance", "bad" if off else "good"))
    items.append(Card(fmt_count(sum(int(r["rows"]) for r in reasons)), "rows quarantined"))
    if suites:
        failed = sum(1 for s in suites if not s.success)
        items.append(Card(f"{len(suites) - failed} / {len(suites)}", "validation suites passed",
                          "bad" if failed else "good"))
    return cards(items)
