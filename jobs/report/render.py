"""Builds the report: runs every section's queries, draws it and writes the file."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jobs.report import data, sections
from jobs.report.page import document


@dataclass
class Report:
    html: str
    sections: dict[str, bool]  # section anchor -> has data


def build_report(warehouse: str, date_from: date, date_to: date, *, confidence: float = 0.95,
                 stages: list[str] | None = None) -> Report:
    """The report's HTML for journeys started (and runs dated) from `date_from` to `date_to`.
    `stages` (journeys.stages) orders the stages; without it the tables' stage_order does."""
    if date_from > date_to:
        raise ValueError(f"the range is empty: {date_from} is after {date_to}")
    con = data.connect(warehouse)
    try:
        trend = data.stage_trend(con, date_from, date_to)
        totals = data.journey_totals(con, date_from, date_to)
        by_stage = data.dropoff_by_stage(con, date_from, date_to)
        by_breakdown = data.dropoff_by_breakdown(con, date_from, date_to)
        points = data.friction_points(con, date_from, date_to, confidence)
        transitions = data.stage_transitions(con, date_from, date_to)
        paths = data.top_paths(con, date_from, date_to)
        touch = data.touchpoint_experience(con, date_from, date_to)
        runs = data.runs(con, date_from, date_to)
        reasons, reasons_from = data.quarantine_by_reason(warehouse, con, date_from, date_to)
    finally:
        con.close()
    suites = data.validation_results(warehouse, date_from, date_to, {r["run_id"]: r["run_date"] for r in runs})

    stage_names = list(stages or [])
    for s in [*(trend.stages if trend else []), *(s.stage for s in by_stage)]:
        if s not in stage_names:
            stage_names.append(s)
    colors = sections.stage_colors(stage_names)
    parts = [
        sections.conversion_over_time(trend, totals, colors, date_from, date_to),
        sections.dropoff(by_stage, by_breakdown, totals, date_from, date_to),
        sections.friction(points, confidence, date_from, date_to),
        sections.sankey(transitions, paths, stage_names, colors, date_from, date_to),
        sections.experience(touch, date_from, date_to),
        sections.run_health(runs, reasons, reasons_from, suites, date_from, date_to),
    ]
    span = f"{date_from.isoformat()} to {date_to.isoformat()}" if date_from != date_to else date_from.isoformat()
    # derived from the data, never from the clock, so the same warehouse gives the same file
    latest = max((r["finished_at"] for r in runs if r["finished_at"] is not None), default=None)
    as_of = f"latest run in range finished {latest:%Y-%m-%d %H:%M} UTC" if latest else "no run in this range"
    subtitle = f"Journeys started and pipeline runs dated {span} · {as_of}"
    html = document("Customer journeys report", subtitle,
                    sections.headline(totals, by_stage, points, runs, reasons, suites), parts,
                    f"journeys report --from {date_from.isoformat()} --to {date_to.isoformat()} · "
                    f"tables read with DuckDB from the published warehouse; definitions in docs/report.md")
    return Report(html, {s.anchor: not s.empty for s in parts})


def write_report(warehouse: str, date_from: date, date_to: date, out: str | Path, **kwargs) -> Report:
    """build_report, written to `out` (folders created); the file is replaced whole."""
    report = build_report(warehouse, date_from, date_to, **kwargs)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report.html, encoding="utf-8")
    tmp.replace(path)
    return report
