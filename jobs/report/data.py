"""What the report shows, read from the published tables with DuckDB (jobs.analyst.warehouse).

Each function returns plain rows (dicts, dataclasses) for one section, already summed over the
requested date range: analytics tables by `journey_start_date`, `pipeline_runs` and the
validation results by run date. Sums are over counts, never over rates, so a range's rates are
exact (NPS, CES and CSAT are weighted by their answers, which is the same thing). Rows come back
in a total order so the same warehouse always gives the same report.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from statistics import NormalDist

from jobs.analyst.warehouse import connect


def _rows(con, sql: str, params: list | tuple = ()) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _ratio(a, b) -> float | None:
    return None if not b else a / b


# ------------------------------------------------------------------ 1. stage conversion over time


def buckets(days: list[date], weekly: bool) -> list[date]:
    """Every bucket start from the first to the last day (gaps included, so time stays linear)."""
    if not days:
        return []
    first, last = min(days), max(days)
    if weekly:
        first, last = first - timedelta(days=first.weekday()), last - timedelta(days=last.weekday())
    step = timedelta(days=7 if weekly else 1)
    out, d = [], first
    while d <= last:
        out.append(d)
        d += step
    return out


def bucket_of(day: date, weekly: bool) -> date:
    return day - timedelta(days=day.weekday()) if weekly else day


@dataclass
class StageTrend:
    weekly: bool
    periods: list[date]
    stages: list[str]
    started: list[int]  # journeys per period
    reached: dict[str, list[int]]  # closed-funnel reach per stage and period
    converted: list[int]

    def reach_rate(self, stage: str) -> list[float | None]:
        return [_ratio(r, s) for r, s in zip(self.reached[stage], self.started)]

    def conversion_rate(self) -> list[float | None]:
        return [_ratio(c, s) for c, s in zip(self.converted, self.started)]


def stage_trend(con, date_from: date, date_to: date, weekly: bool | None = None) -> StageTrend | None:
    rows = _rows(con, """
        SELECT journey_start_date AS day, stage, min(stage_order) AS stage_order,
               sum(journeys_started) AS started, sum(journeys_reached_closed) AS reached
        FROM stage_funnel WHERE breakdown = 'all' AND journey_start_date BETWEEN ? AND ?
        GROUP BY ALL ORDER BY day, stage_order, stage""", [date_from, date_to])
    if not rows:
        return None
    conv = {r["day"]: r for r in _rows(con, """
        SELECT journey_start_date AS day, count(*) AS started, count(*) FILTER (status = 'converted') AS converted
        FROM journeys WHERE journey_start_date BETWEEN ? AND ? GROUP BY ALL""", [date_from, date_to])}
    days = sorted({r["day"] for r in rows})
    if weekly is None:  # a point a day stays readable up to about two months
        weekly = (max(days) - min(days)).days > 62
    periods = buckets(days, weekly)
    index = {p: i for i, p in enumerate(periods)}
    stages = [s for s, _ in sorted({(r["stage"], r["stage_order"]) for r in rows}, key=lambda x: (x[1], x[0]))]
    started, converted = [0] * len(periods), [0] * len(periods)
    reached = {s: [0] * len(periods) for s in stages}
    for r in rows:
        i = index[bucket_of(r["day"], weekly)]
        reached[r["stage"]][i] += int(r["reached"])
        if r["stage"] == stages[0]:
            started[i] += int(r["started"])
    for day, r in conv.items():
        if day in set(days):
            converted[index[bucket_of(day, weekly)]] += int(r["converted"])
    return StageTrend(weekly, periods, stages, started, reached, converted)


@dataclass
class JourneyTotals:
    started: int
    converted: int
    dropped: int
    open: int
    first_day: date | None
    last_day: date | None


def journey_totals(con, date_from: date, date_to: date) -> JourneyTotals:
    r = _rows(con, """
        SELECT count(*) AS started, count(*) FILTER (status = 'converted') AS converted,
               count(*) FILTER (status = 'dropped') AS dropped, count(*) FILTER (status = 'open') AS open,
               min(journey_start_date) AS first_day, max(journey_start_date) AS last_day
        FROM journeys WHERE journey_start_date BETWEEN ? AND ?""", [date_from, date_to])[0]
    return JourneyTotals(**{k: (int(v) if isinstance(v, (int, float)) else v) for k, v in r.items()})


# ------------------------------------------------------------------ 2. drop-off


@dataclass
class StageDropoff:
    stage: str
    stage_order: int
    reached_closed: int
    progressed: int
    dropped: int
    in_progress: int
    converted: int
    dropped_open_funnel: int

    @property
    def dropoff_rate(self) -> float | None:
        return _ratio(self.dropped, self.reached_closed)


def dropoff_by_stage(con, date_from: date, date_to: date) -> list[StageDropoff]:
    rows = _rows(con, """
        SELECT stage, min(stage_order) AS stage_order, sum(journeys_reached_closed) AS reached_closed,
               coalesce(sum(journeys_progressed), 0) AS progressed, sum(journeys_dropped) AS dropped,
               sum(journeys_in_progress) AS in_progress, sum(journeys_converted) AS converted,
               sum(journeys_dropped_open_funnel) AS dropped_open_funnel
        FROM stage_funnel WHERE breakdown = 'all' AND journey_start_date BETWEEN ? AND ?
        GROUP BY stage ORDER BY stage_order, stage""", [date_from, date_to])
    return [StageDropoff(**{k: (v if k == "stage" else int(v)) for k, v in r.items()}) for r in rows]


@dataclass
class BreakdownDropoff:
    breakdown: str
    values: list[str]  # most journeys first
    started: dict[str, int]
    stages: list[str]
    reached_closed: dict[tuple[str, str], int]  # (value, stage)
    dropped: dict[tuple[str, str], int]

    def rate(self, value: str, stage: str) -> float | None:
        return _ratio(self.dropped.get((value, stage), 0), self.reached_closed.get((value, stage), 0))


def dropoff_by_breakdown(con, date_from: date, date_to: date, max_values: int = 12) -> list[BreakdownDropoff]:
    """Drop-off rate per stage for each breakdown value (the breakdowns the table holds)."""
    rows = _rows(con, """
        SELECT breakdown, breakdown_value AS value, stage, min(stage_order) AS stage_order,
               sum(journeys_started) AS started, sum(journeys_reached_closed) AS reached_closed,
               sum(journeys_dropped) AS dropped
        FROM stage_funnel WHERE breakdown <> 'all' AND journey_start_date BETWEEN ? AND ?
        GROUP BY ALL ORDER BY breakdown, value, stage_order, stage""", [date_from, date_to])
    out = []
    for name in sorted({r["breakdown"] for r in rows}):
        mine = [r for r in rows if r["breakdown"] == name]
        stages = [s for s, _ in sorted({(r["stage"], r["stage_order"]) for r in mine}, key=lambda x: (x[1], x[0]))]
        started = {r["value"]: int(r["started"]) for r in mine if r["stage"] == stages[0]}
        values = sorted(started, key=lambda v: (-started[v], v))[:max_values]
        out.append(BreakdownDropoff(
            name, values, started, stages,
            {(r["value"], r["stage"]): int(r["reached_closed"]) for r in mine},
            {(r["value"], r["stage"]): int(r["dropped"]) for r in mine}))
    return out


# ------------------------------------------------------------------ 3. friction points


@dataclass
class FrictionPoint:
    touchpoint: str
    stage: str
    signal: str
    occurrences: int
    journeys_affected: int
    affected_converted: int
    journeys_unaffected: int
    unaffected_converted: int
    lost_conversions: float
    affected_rate: float | None = None
    unaffected_rate: float | None = None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    significant: bool = False
    rank: int = 0

    @property
    def label(self) -> str:
        return f"{self.touchpoint} · {self.stage} · {self.signal}"


def wald_interval(x1: int, n1: int, x2: int, n2: int, confidence: float) -> tuple[float | None, ...]:
    """Difference p2 - p1 of two proportions with its Wald interval, as friction_points computes it
    (jobs/analytics/friction_impact.py); None without comparable journeys."""
    if not n1 or not n2:
        return (_ratio(x1, n1), None, None, None, None)
    p1, p2 = x1 / n1, x2 / n2
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1, p2, p2 - p1, p2 - p1 - half, p2 - p1 + half


def friction_points(con, date_from: date, date_to: date, confidence: float = 0.95) -> list[FrictionPoint]:
    """Friction points over the range, most lost conversions first: lost conversions are the sum
    of the daily figures; rates and the interval come from the summed counts."""
    rows = _rows(con, """
        SELECT touchpoint, stage, signal, sum(occurrences) AS occurrences,
               sum(journeys_affected) AS journeys_affected, sum(journeys_affected_converted) AS affected_converted,
               sum(journeys_unaffected) AS journeys_unaffected,
               sum(journeys_unaffected_converted) AS unaffected_converted, sum(lost_conversions) AS lost_conversions
        FROM friction_points WHERE breakdown = 'all' AND journey_start_date BETWEEN ? AND ?
        GROUP BY ALL""", [date_from, date_to])
    points = []
    for r in rows:
        p = FrictionPoint(**{k: (float(v) if k == "lost_conversions" else v if isinstance(v, str) else int(v))
                             for k, v in r.items()})
        p.affected_rate, p.unaffected_rate, p.difference, p.ci_low, p.ci_high = wald_interval(
            p.affected_converted, p.journeys_affected, p.unaffected_converted, p.journeys_unaffected, confidence)
        p.significant = p.ci_low is not None and (p.ci_low > 0 or p.ci_high < 0)
        points.append(p)
    points.sort(key=lambda p: (-round(p.lost_conversions, 9), p.signal, p.touchpoint, p.stage))
    for i, p in enumerate(points, 1):
        p.rank = i
    return points


# ------------------------------------------------------------------ 4. Sankey and paths


def stage_transitions(con, date_from: date, date_to: date) -> list[tuple[int, str, str, int]]:
    return [(int(r["step_index"]), r["from_step"], r["to_step"], int(r["journeys"])) for r in _rows(con, """
        SELECT step_index, from_step, to_step, sum(journeys) AS journeys
        FROM journey_paths WHERE record_type = 'transition' AND path_type = 'stage'
          AND journey_start_date BETWEEN ? AND ?
        GROUP BY ALL ORDER BY step_index, from_step, to_step""", [date_from, date_to])]


def top_paths(con, date_from: date, date_to: date, limit: int = 10) -> list[dict]:
    """The most frequent stage paths; "(other)" (each day's tail) is kept apart, last."""
    rows = _rows(con, """
        SELECT path, sum(journeys) AS journeys, sum(converted_journeys) AS converted
        FROM journey_paths WHERE record_type = 'path' AND path_type = 'stage' AND journey_start_date BETWEEN ? AND ?
        GROUP BY path ORDER BY path = '(other)', sum(journeys) DESC, path""", [date_from, date_to])
    named = [r for r in rows if r["path"] != "(other)"]
    other = [r for r in rows if r["path"] == "(other)"]
    return named[:limit] + other


# ------------------------------------------------------------------ 5. touchpoints


def touchpoint_experience(con, date_from: date, date_to: date) -> list[dict]:
    """Per touchpoint over every stage and channel: volume, friction and NPS/CES/CSAT weighted by
    their answers (NPS, a difference of two shares, pools exactly that way)."""
    return _rows(con, """
        SELECT * FROM (
        SELECT touchpoint, sum(events) AS events, sum(friction_events) AS friction_events,
               sum(friction_events) / nullif(sum(events), 0) AS friction_rate,
               sum(nps * nps_responses) / nullif(sum(nps_responses), 0) AS nps, sum(nps_responses) AS nps_responses,
               sum(ces * ces_responses) / nullif(sum(ces_responses), 0) AS ces, sum(ces_responses) AS ces_responses,
               sum(csat_rate * csat_responses) / nullif(sum(csat_responses), 0) AS csat,
               sum(csat_responses) AS csat_responses
        FROM touchpoints WHERE journey_start_date BETWEEN ? AND ?
        GROUP BY touchpoint)
        ORDER BY nps_responses + ces_responses + csat_responses DESC, events DESC, touchpoint""",
                 [date_from, date_to])


# ------------------------------------------------------------------ 6. run health


def runs(con, date_from: date, date_to: date) -> list[dict]:
    """Every step and source of the runs of the range, in run order."""
    rows = _rows(con, """
        SELECT run_id, run_date, step, source, status, rows_in, rows_out, rows_quarantined, rows_duplicate,
               coalesce(rows_bot, 0) AS rows_bot, rows_late, is_balanced, warnings, finished_at
        FROM pipeline_runs WHERE run_date BETWEEN ? AND ?
        ORDER BY run_date, started_at, run_id, step, source = 'all', source""", [date_from, date_to])
    for r in rows:
        # recomputed, not trusted: the point of the table is to show the books balance
        r["balances"] = r["rows_in"] == r["rows_out"] + r["rows_quarantined"] + r["rows_duplicate"] + r["rows_bot"]
    return rows


def quarantine_by_reason(warehouse: str, con, date_from: date, date_to: date) -> tuple[list[dict], str]:
    """Quarantined rows per source and reason code, and where the counts came from. The run
    records carry the counts; only when no run of the range recorded any is the restricted
    `quarantine` table read, and then for counts alone (its rows hold raw personal data)."""
    rows = _rows(con, """
        SELECT source, reason, sum(n) AS rows FROM (
            SELECT source, unnest(map_keys(quarantine_by_reason)) AS reason,
                   unnest(map_values(quarantine_by_reason)) AS n
            FROM pipeline_runs
            WHERE run_date BETWEEN ? AND ? AND source <> 'all' AND quarantine_by_reason IS NOT NULL)
        GROUP BY ALL HAVING sum(n) > 0 ORDER BY rows DESC, reason, source""", [date_from, date_to])
    if rows:
        return rows, "pipeline_runs"
    restricted = connect(warehouse, include_restricted=True)
    try:
        rows = _rows(restricted, """
            SELECT source, reason_code AS reason, count(*) AS rows FROM quarantine
            WHERE arrival_date BETWEEN ? AND ? GROUP BY ALL ORDER BY rows DESC, reason, source""",
                     [date_from, date_to])
    finally:
        restricted.close()
    return rows, "quarantine"


_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})")


@dataclass
class SuiteResult:
    run: str
    run_date: date | None
    suite: str
    success: bool
    evaluated: int
    row_count: int | None
    critical_failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def validation_results(warehouse: str, date_from: date, date_to: date, run_dates: dict[str, date]) -> list[SuiteResult]:
    """The suites' JSON results under `<warehouse>/_validation/<run>/<suite>.json` whose run falls
    in the range: the run date from `pipeline_runs` (`run_dates`), else the date the folder name
    starts with (output suites run as `<date>-outputs`)."""
    from jobs.quality.validation import REPORT_FORMAT  # lazily: jobs.quality pulls in Great Expectations

    root = Path(warehouse) / "_validation"
    out = []
    for path in sorted(root.glob("*/*.json")):
        run = path.parent.name
        day = run_dates.get(run)
        if day is None and (m := _DATE_PREFIX.match(run)):
            try:
                day = date.fromisoformat(m.group(1))
            except ValueError:
                day = None
        if day is None or not date_from <= day <= date_to:
            continue
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("format") != REPORT_FORMAT:
            continue
        out.append(SuiteResult(run, day, str(doc.get("suite_name") or path.stem), bool(doc.get("success")),
                               int(doc.get("evaluated") or 0), doc.get("row_count"),
                               [str(x) for x in doc.get("critical_failures") or []],
                               [str(x) for x in doc.get("warnings") or []]))
    out.sort(key=lambda s: (s.run_date, s.run, s.suite))
    return out
