"""`journeys report`: the pure pieces (Sankey layout, scales, escaping, empty sections), the
report over the shared pipeline warehouse, and the file in a real headless Chromium."""
from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from jobs.report import data, sections
from jobs.report.render import build_report
from jobs.report.sankey import LATER, Flow, flows_from_transitions, layout
from jobs.report.svg import Scale, Series, esc, line_chart, nice_ticks, text_width

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
FIRST, LAST = date(2026, 1, 5), date(2026, 1, 7)
CHROMIUM = "/usr/bin/chromium"


# ------------------------------------------------------------------ pure pieces


TRANSITIONS = [  # (step_index, from, to, journeys) as journey_paths holds them
    (1, "awareness", "consideration", 40), (1, "awareness", "(dropped)", 25), (1, "consideration", "(open)", 10),
    (1, "consideration", "purchase", 5),
    (2, "consideration", "purchase", 30), (2, "consideration", "(dropped)", 10), (2, "purchase", "(converted)", 5),
    (3, "purchase", "awareness", 20), (3, "purchase", "(converted)", 10),
    (4, "awareness", "purchase", 20),
    (5, "purchase", "awareness", 8), (5, "purchase", "(converted)", 12),
    (6, "awareness", "purchase", 8), (7, "purchase", "(converted)", 8),
]


def _check_conservation(flows, lay):
    inflow, outflow = {}, {}
    for f in flows:
        outflow[f.source] = outflow.get(f.source, 0) + f.value
        inflow[f.target] = inflow.get(f.target, 0) + f.value
    for key, node in lay.nodes.items():
        if key in inflow and key in outflow:  # a node in the middle passes on what it receives
            assert inflow[key] == pytest.approx(outflow[key]), key
        assert node.height == pytest.approx(max(inflow.get(key, 0), outflow.get(key, 0)) * lay.scale)
    for key, node in lay.nodes.items():
        # the bands leaving (entering) a node tile it exactly, top to bottom, without overlap
        for side, attr in (("out", "y_source"), ("in", "y_target")):
            mine = sorted((getattr(l, attr), l.width) for l in lay.links
                          if (l.flow.source if side == "out" else l.flow.target) == key)
            y = node.y
            for top, width in mine:
                assert top == pytest.approx(y)
                y += width
            if mine:
                assert y == pytest.approx(node.y + node.height)


def test_sankey_flows_conserve_journeys_and_fold_later_steps():
    flows = flows_from_transitions(TRANSITIONS, max_steps=4)
    starts = sum(v for i, _, _, v in TRANSITIONS if i == 1)
    outcomes = sum(v for *_, t, v in TRANSITIONS if t.startswith("("))
    cols = sorted({f.source[0] for f in flows} | {f.target[0] for f in flows})
    last = cols[-1]
    assert {f.target[1] for f in flows if f.target[0] == last} == {"(converted)", "(dropped)", "(open)"}
    assert sum(f.value for f in flows if f.target[0] == last) == outcomes == starts
    # the 20 journeys that went on after step 4 pass through one folded node, then end
    later = [(5, LATER)]
    assert sum(f.value for f in flows if f.target in later) == 20
    assert sum(f.value for f in flows if f.source in later) == 20
    lay = layout(flows, x0=0, x1=900, y0=50, y1=450)
    _check_conservation(flows, lay)
    for c in cols:  # every column fits the plot area
        ns = [n for n in lay.nodes.values() if n.column == c]
        assert min(n.y for n in ns) >= 50 - 1e-6 and max(n.y + n.height for n in ns) <= 450 + 1e-6


def test_sankey_short_paths_have_no_folded_node_and_empty_input_is_empty():
    flows = flows_from_transitions([(1, "a", "b", 3), (2, "b", "(converted)", 3), (1, "a", "(open)", 2)])
    assert Flow((1, "a"), (2, "b"), 3.0) in flows
    assert Flow((2, "b"), (3, "(converted)"), 3.0) in flows and Flow((1, "a"), (3, "(open)"), 2.0) in flows
    assert not any(LATER in (f.source[1], f.target[1]) for f in flows)
    _check_conservation(flows, layout(flows, x0=0, x1=500, y0=0, y1=300))
    assert flows_from_transitions([]) == []


def test_scales_and_ticks():
    s = Scale(0, 1, 100, 300)
    assert s(0) == 100 and s(1) == 300 and s(0.25) == 150
    assert Scale(5, 5, 0, 10)(5) == 5  # a flat domain maps to the middle
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 87) == [0, 20, 40, 60, 80, 100]
    t = nice_ticks(-0.13, 0.42)
    assert t[0] <= -0.13 and t[-1] >= 0.42 and 0 in t
    assert nice_ticks(0, 0)[-1] > 0


def test_line_chart_scales_values_into_the_plot():
    svg = line_chart("c", "t", ["d1", "d2", "d3"], [Series("s", [0.0, 0.5, None], "#000")], x_label="x",
                     y_label="y", y_max=1.0)
    ys = [float(y) for y in re.findall(r'<circle class="mark" cx="[\d.]+" cy="([\d.]+)"', svg)]
    assert len(ys) == 2 and ys[0] > ys[1]  # 0 at the bottom, 0.5 above it; None draws nothing
    assert "d1" in svg and ">x<" in svg and ">y<" in svg and 'class="legend"' in svg


def test_date_labels_never_overlap_and_the_latest_is_always_shown():
    for n in (7, 30, 31, 90):
        labels = [f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(n)]
        svg = line_chart("c", "t", labels, [Series("s", [0.1] * n, "#000")], x_label="x", y_label="y")
        shown = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle" fill="[^"]+">(2026-[\d-]+)</text>', svg)
        assert shown[-1][1] == labels[-1], n
        xs = [float(x) for x, _ in shown]
        assert min(b - a for a, b in zip(xs, xs[1:])) >= text_width(labels[0]), n


def test_every_value_is_escaped():
    evil = '<script>alert("x")</script>&'
    assert esc(evil) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"
    row = {"touchpoint": evil, "events": 3, "friction_events": 1, "friction_rate": 1 / 3, "nps": 50.0,
           "nps_responses": 2, "ces": None, "ces_responses": 0, "csat": 1.0, "csat_responses": 1}
    html = sections.experience([row], FIRST, LAST).body
    assert "<script" not in html and "&lt;script&gt;" in html
    flows = sections.sankey([(1, evil, "(converted)", 2)], [{"path": evil, "journeys": 2, "converted": 2}],
                            [], sections.stage_colors([]), FIRST, LAST).body
    assert "<script" not in flows


def test_wald_interval_matches_the_table_formula():
    p1, p2, diff, low, high = data.wald_interval(10, 40, 30, 60, 0.95)
    assert (p1, p2, diff) == (0.25, 0.5, 0.25)
    half = 1.959963984540054 * (0.25 * 0.75 / 40 + 0.5 * 0.5 / 60) ** 0.5
    assert low == pytest.approx(0.25 - half) and high == pytest.approx(0.25 + half)
    assert data.wald_interval(1, 4, 0, 0, 0.95)[1:] == (None, None, None, None)


def test_weekly_buckets_start_on_monday_and_leave_no_gap():
    days = [date(2026, 1, 7), date(2026, 1, 20)]
    assert data.buckets(days, weekly=True) == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]
    assert len(data.buckets(days, weekly=False)) == 14


def test_an_empty_warehouse_renders_no_data_everywhere(tmp_path):
    (tmp_path / "warehouse").mkdir()
    report = build_report(str(tmp_path / "warehouse"), FIRST, LAST)
    assert report.sections and not any(report.sections.values())
    assert report.html.count('class="nodata"') >= 6 and "No data for" in report.html


# ------------------------------------------------------------------ on the pipeline's warehouse


@pytest.fixture(scope="module")
def warehouse(pipeline_warehouse):
    return pipeline_warehouse[0].warehouse


@pytest.fixture(scope="module")
def span(pipeline_warehouse):
    """First and last arrival date: late deliveries arrive after the last event date."""
    from conftest import arrival_dates

    dates = arrival_dates(pipeline_warehouse[1])
    return dates[0], dates[-1]


@pytest.fixture(scope="module")
def report_file(warehouse, span, tmp_path_factory):
    from jobs.cli import main

    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "--warehouse", warehouse, "--from", span[0].isoformat(), "--to", span[1].isoformat(),
                 "--out", str(out), "--quiet"]) == 0
    return out


def test_report_has_every_section_with_data(report_file, warehouse):
    html = report_file.read_text()
    for anchor in ("conversion", "dropoff", "friction", "sankey", "experience", "runs"):
        assert f'<section id="{anchor}">' in html and f'href="#{anchor}"' in html
    assert "No data for" not in html
    for chart in ("chart-conversion", "chart-dropoff", "chart-dropoff-channel", "chart-friction", "chart-sankey",
                  "chart-experience", "chart-quarantine", "chart-validation"):
        assert f'id="{chart}"' in html, chart
    # self-contained: nothing to fetch (the SVG namespace is a name, not a request)
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|src=", html)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}
    # never a quarantined row's content, only counts by reason
    import duckdb

    raw = duckdb.sql(f"SELECT raw_record FROM read_parquet('{warehouse}/quarantine/**/*.parquet', "
                     "hive_partitioning = true) WHERE length(raw_record) > 20 LIMIT 20").fetchall()
    assert raw and not any(esc(r[0][:40]) in html for r in raw)


def test_figures_match_the_tables(warehouse, span):
    FIRST, LAST = span
    con = data.connect(warehouse)
    try:
        totals = data.journey_totals(con, FIRST, LAST)
        n, conv = con.execute("SELECT count(*), count(*) FILTER (status = 'converted') FROM journeys").fetchone()
        assert (totals.started, totals.converted) == (n, conv)
        trend = data.stage_trend(con, FIRST, LAST)
        assert sum(trend.started) == n and sum(trend.converted) == conv
        stages = data.dropoff_by_stage(con, FIRST, LAST)
        for s in stages:  # each stage's journeys split exactly into what happened next
            assert s.reached_closed == s.progressed + s.dropped + s.in_progress + s.converted
        assert [s.stage for s in stages] == trend.stages
        for b in data.dropoff_by_breakdown(con, FIRST, LAST):
            assert sum(b.started.values()) == n, b.breakdown
        # one day: the pooled interval is the table's own
        day = con.execute("SELECT min(journey_start_date) FROM friction_points").fetchone()[0]
        expected = {(r[0], r[1], r[2]): r[3:] for r in con.execute(
            "SELECT touchpoint, stage, signal, difference_ci_low, difference_ci_high, lost_conversions FROM "
            "friction_points WHERE breakdown = 'all' AND journey_start_date = ?", [day]).fetchall()}
        points = data.friction_points(con, day, day)
        assert len(points) == len(expected) > 0
        for p in points:
            low, high, lost = expected[(p.touchpoint, p.stage, p.signal)]
            assert p.lost_conversions == pytest.approx(lost)
            assert (p.ci_low, p.ci_high) == (pytest.approx(low), pytest.approx(high)) if low is not None \
                else p.ci_low is None
        lost = [round(p.lost_conversions, 9) for p in points]  # ties may differ in the last bit
        assert lost == sorted(lost, reverse=True)
        flows = flows_from_transitions(data.stage_transitions(con, FIRST, LAST))
        assert sum(f.value for f in flows if f.source[0] == 1) == n  # every journey enters the Sankey once
        runs = data.runs(con, FIRST, LAST)
        assert runs and all(r["balances"] for r in runs) and {"normalize", "build"} <= {r["step"] for r in runs}
    finally:
        con.close()
    suites = data.validation_results(warehouse, FIRST, LAST, {r["run_id"]: r["run_date"] for r in runs})
    assert {"clickstream_events", "journeys", "stage_funnel"} <= {s.suite for s in suites}  # raw and output suites
    assert all(s.success for s in suites)
    assert data.validation_results(warehouse, FIRST, FIRST, {}) and all(
        s.run_date == FIRST for s in data.validation_results(warehouse, FIRST, FIRST, {}))


def test_same_input_same_file_and_empty_range_says_so(warehouse, span):
    a = build_report(warehouse, *span).html
    assert a == build_report(warehouse, *span).html
    empty = build_report(warehouse, date(2030, 1, 1), date(2030, 1, 31))
    assert not any(empty.sections.values())
    assert empty.html.count("No data for") >= 6 and "2030-01-01 to 2030-01-31" in empty.html


def test_cli_errors_are_one_line(warehouse, tmp_path, capsys):
    from jobs.cli import main

    assert main(["report", "--warehouse", warehouse, "--from", "2026-01-07", "--to", "2026-01-05"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is after --to" in err
    assert main(["report", "--warehouse", str(tmp_path / "missing"), "--from", "2026-01-05", "--to",
                 "2026-01-05"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no warehouse at" in err
    out = tmp_path / "r.html"
    assert main(["report", "--warehouse", warehouse, "--from", "2026-01-05", "--to", "2026-01-05",
                 "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["out"] == str(out.resolve()) and out.is_file() and result["sections"]["sankey"] is True


# ------------------------------------------------------------------ in a real browser


def test_report_renders_in_chromium_offline(report_file):
    """Loads the file in headless Chromium with every request but the file itself refused:
    no console error, every chart drawn with visible marks; a full-page screenshot is kept."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: run JOURNEYS_SETUP_BROWSER=1 bash scripts/setup.sh"
    url = report_file.resolve().as_uri()
    requests, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                requests.append(r.request.url)
                return r.continue_() if r.request.url == url else r.abort()

            page.route("**/*", route)
            page.goto(url, wait_until="load")
            charts = page.evaluate("""() => [...document.querySelectorAll('svg.chart')].map(svg => {
                const box = svg.getBoundingClientRect();
                const marks = [...svg.querySelectorAll('.mark')].map(m => m.getBBox())
                    .filter(b => b.width > 0 && b.height > 0);
                return {id: svg.id, width: box.width, height: box.height, marks: marks.length};
            })""")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [url]
    assert errors == []
    assert len(charts) >= 8
    for c in charts:
        assert c["width"] > 300 and c["height"] > 100 and c["marks"] > 0, c
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
