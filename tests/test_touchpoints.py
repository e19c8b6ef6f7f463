"""Touchpoints table on hand-built journeys: volume, first/end touch, friction rate, NPS in
points, CES mean, CSAT share, the key-touchpoint classes and the output suite."""
from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime

import pytest

from jobs.analytics.friction_config import FrictionConfig, TouchpointClasses
from jobs.analytics.touchpoints import touchpoints
from jobs.contracts import table_contract
from tests.friction_frames import DAY, call, ev, events_frame, journeys_frame
from output_suite import check_output
from tests.conftest import sql_settings

DAY2 = date(2026, 1, 6)


def _crm(journey, step, seconds, event_type, touchpoint, csat=None):
    return ev(journey, step, seconds, event_type, None, channel="crm", stage=None, touchpoint=touchpoint, csat=csat)


ROWS = [
    # a converts: its end touch is /cart, the last event before the purchase
    ev("a", 1, 0, "page_view", "/"), ev("a", 2, 5, "page_view", "/"),
    ev("a", 3, 10, "page_view", "/cart", stage="purchase_intent"),
    ev("a", 4, 20, "purchase", "/checkout/confirmation", stage="purchase"),
    # b drops after calls; the calls take b's last stage
    ev("b", 1, 0, "page_view", "/"), ev("b", 2, 5, "error_page", "/search", stage="consideration"),
    {**call("b", 3, 600), "nps_score": 10, "ces_score": 6}, {**call("b", 4, 7200), "nps_score": 9},
    # c is still open: no end touch yet
    ev("c", 1, 0, "page_view", "/search", stage="consideration"),
    {**call("c", 2, 600), "nps_score": 3, "ces_score": 2}, {**call("c", 3, 7200), "nps_score": 7},
    # d: CRM only, no stage
    _crm("d", 1, 0, "complaint_opened", "crm:complaint:payment"),
    _crm("d", 2, 3600, "case_closed", "crm:case:payment", csat=4),
    _crm("d", 3, 7200, "case_closed", "crm:case:payment", csat=2),
    # e starts the next day
    ev("e", 1, 0, "page_view", "/"),
]
STATUS = {"a": "converted", "b": "dropped", "c": "open", "d": "dropped", "e": "dropped"}
OCCURRENCES = [("b", "b-2", "error_event"), ("b", "b-2", "dead_end"), ("c", "c-2", "low_survey_score"),
               ("d", "d-1", "complaint")]


@pytest.fixture(scope="module")
def frames(spark):
    js = journeys_frame(spark, ROWS, status=STATUS, start_date={"e": DAY2})
    occ = spark.createDataFrame(
        [{"journey_id": j, "customer_key": f"c-{j}", "signal": s, "touchpoint": "t", "stage": "(none)",
          "channel": "web", "session_id": "s", "event_id": e, "occurred_at": datetime(2026, 1, 5), "detail": "d",
          "journey_start_date": DAY} for j, e, s in OCCURRENCES],
        table_contract("friction_occurrences").spark_schema())
    return js, events_frame(spark, ROWS), occ


def table(frames, config=None):
    js, je, occ = frames
    out = touchpoints(js, je, occ, config or FrictionConfig())
    return out, {(r.journey_start_date, r.touchpoint): r for r in out.collect()}


@pytest.fixture(scope="module")
def default(frames):
    return table(frames)


def test_output_schema_is_the_contract(default):
    out, rows = default
    contract = table_contract("touchpoints").spark_schema()
    assert [(f.name, f.dataType) for f in out.schema] == [(f.name, f.dataType) for f in contract]
    assert sorted((d, t, rows[d, t].stage, rows[d, t].channel) for d, t in rows) == [
        (DAY, "call:general", "consideration", "phone"),
        (DAY, "crm:case:payment", "(none)", "crm"),
        (DAY, "crm:complaint:payment", "(none)", "crm"),
        (DAY, "web:/", "awareness", "web"),
        (DAY, "web:/cart", "purchase_intent", "web"),
        (DAY, "web:/checkout/confirmation", "purchase", "web"),
        (DAY, "web:/search", "consideration", "web"),
        (DAY2, "web:/", "awareness", "web"),
    ]


def test_volume_first_and_end_touch(default):
    _, rows = default
    got = {t: (r.events, r.journeys, r.customers, r.first_touch_journeys, r.end_touch_journeys)
           for (d, t), r in rows.items() if d == DAY}
    assert got == {
        "web:/": (3, 2, 2, 2, 0),
        "web:/cart": (1, 1, 1, 0, 1),                  # before a's conversion
        "web:/checkout/confirmation": (1, 1, 1, 0, 0),  # the conversion is not the end touch
        "web:/search": (2, 2, 2, 1, 0),
        "call:general": (4, 2, 2, 0, 1),               # b's last event; c is open
        "crm:complaint:payment": (1, 1, 1, 1, 0),
        "crm:case:payment": (2, 1, 1, 0, 1),
    }


def test_friction_rate_counts_events_with_an_occurrence(default):
    _, rows = default
    search, calls, complaint = rows[DAY, "web:/search"], rows[DAY, "call:general"], rows[DAY, "crm:complaint:payment"]
    assert (search.friction_events, search.friction_occurrences, search.friction_rate) == (1, 2, 0.5)
    assert (calls.friction_events, calls.friction_occurrences, calls.friction_rate) == (1, 1, 0.25)
    assert (complaint.complaint_occurrences, complaint.friction_rate) == (1, 1.0)
    assert rows[DAY, "web:/"].friction_rate == 0.0


def test_nps_is_in_points_ces_a_mean_and_csat_a_share(default):
    _, rows = default
    calls = rows[DAY, "call:general"]
    # answers 10, 9, 7, 3: 2 promoters, 1 detractor of 4 -> +25 points (not a fraction)
    assert (calls.nps, calls.nps_responses) == (pytest.approx(25.0), 4)
    assert (calls.ces, calls.ces_responses) == (pytest.approx(4.0), 2)
    assert (calls.csat_rate, calls.csat_responses) == (None, 0)
    case = rows[DAY, "crm:case:payment"]
    assert (case.csat_rate, case.csat_responses, case.nps, case.nps_responses) == (0.5, 2, None, 0)


def test_key_touchpoint_classes(default):
    _, rows = default

    def flagged(name):
        return sorted(t for (d, t), r in rows.items() if d == DAY and r[name])
    assert flagged("is_first_touch") == ["crm:complaint:payment", "web:/", "web:/search"]
    assert flagged("is_end_touch") == ["call:general", "crm:case:payment", "web:/cart"]
    assert flagged("is_high_frequency") == ["call:general"]  # top 10 % of 7 rows: 1
    assert flagged("is_complaint") == ["crm:complaint:payment"]
    assert flagged("is_high_perception") == ["call:general", "crm:case:payment", "crm:complaint:payment"]
    # the next day is classified on its own
    assert rows[DAY2, "web:/"].is_first_touch and rows[DAY2, "web:/"].is_high_frequency


def test_class_thresholds_come_from_config(frames):
    classes = TouchpointClasses(first_touch_min_share=0.5, high_frequency_top_share=0.3)
    _, rows = table(frames, FrictionConfig(touchpoint_classes=classes))
    day = {t: r for (d, t), r in rows.items() if d == DAY}
    assert sorted(t for t, r in day.items() if r.is_first_touch) == ["web:/"]  # 2 of 4 journeys
    # 3 of 7 rows, and the two rows tied at the third place are both in
    assert sorted(t for t, r in day.items() if r.is_high_frequency) == [
        "call:general", "crm:case:payment", "web:/", "web:/search"]


def _validate(df, tmp_path):
    return check_output(df, "touchpoints", tmp_path)


def test_suite_fails_on_a_broken_frame(default, tmp_path):
    from pyspark.sql import functions as F

    out, _ = default
    broken = out.withColumn("nps", F.when(F.col("nps").isNotNull(), F.lit(150.0))) \
        .withColumn("customers", F.col("journeys") + 1) \
        .withColumn("first_touch_journeys", F.lit(0).cast("long"))
    report = _validate(broken, tmp_path / "bad")
    assert not report.success
    failed = " ".join(report.critical_failures)
    # the range, a pair rule and a rule conditioned on a boolean column all bite
    assert "customers" in failed and "nps" in failed and "first_touch_journeys" in failed


def test_the_events_are_shuffled_by_journey_once(spark, frames):
    """At scale the per-event friction counts are too large to broadcast, and the join by
    event_id shuffles: the journey windows come before it, so nothing has to shuffle the
    events back by journey after it."""
    js, je, occ = frames
    with sql_settings(spark, {"spark.sql.autoBroadcastJoinThreshold": "-1", "spark.sql.adaptive.enabled": "false"}):
        plan = touchpoints(js, je, occ, FrictionConfig())._jdf.queryExecution().executedPlan().toString()
    # a reused shuffle is printed with the one it reuses: not a shuffle of its own
    shuffles = Counter(key for line in plan.splitlines() if "ReusedExchange" not in line
                       for key in re.findall(r"Exchange hashpartitioning\(([^)]*)\)", line))
    assert any(key.startswith("event_id#") for key in shuffles)  # the join this is about shuffles
    assert [key for key, n in shuffles.items() if n > 1] == []  # no column's rows shuffled by it twice
