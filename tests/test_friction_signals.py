"""Friction signals on hand-built journeys: each rule, its threshold and what it is attributed to."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from jobs.analytics.friction import SIGNALS, friction_occurrences
from jobs.analytics.friction_config import FrictionConfig, SignalsConfig
from jobs.contracts import table_contract
from tests.friction_frames import ERRORS, call, ev, events_frame, journeys_frame

HOUR, DAY_S = 3600.0, 86400.0


def only(name: str, inherit_stage: bool = True, **settings) -> FrictionConfig:
    """The default config with every signal but `name` disabled (and `name` changed by settings)."""
    signals = FrictionConfig().signals
    fields = {n: getattr(signals, n).model_copy(update=settings if n == name else {"enabled": False})
              for n in SIGNALS}
    return FrictionConfig(signals=SignalsConfig(**fields), inherit_stage=inherit_stage)


def detect(spark, rows, config, **journey_kw):
    j = journeys_frame(spark, rows, **journey_kw)
    out = friction_occurrences(j, events_frame(spark, rows), config, ERRORS)
    return sorted((r.journey_id, r.signal, r.event_id, r.detail) for r in out.collect())


def test_output_schema_is_the_contract(spark):
    rows = [ev("a", 1, 0), ev("a", 2, 5, "error_page", "/search", stage="consideration")]
    j = journeys_frame(spark, rows)
    out = friction_occurrences(j, events_frame(spark, rows), FrictionConfig(), ERRORS)
    contract = table_contract("friction_occurrences").spark_schema()
    assert [(f.name, f.dataType) for f in out.schema] == [(f.name, f.dataType) for f in contract]
    got = {(r.signal, r.event_id, r.touchpoint, r.stage, r.session_id) for r in out.collect()}
    # the error is also the session's last event: a dead end too
    assert got == {("error_event", "a-2", "web:/search", "consideration", "a-s1"),
                   ("dead_end", "a-2", "web:/search", "consideration", "a-s1")}


def test_error_events_are_the_configured_types_of_the_given_journeys_only(spark):
    rows = [ev("a", 1, 0, "form_error", "/signup"), ev("a", 2, 5, "page_view", "/signup"),
            ev("b", 1, 0, "error_page", "/search")]
    journeys = journeys_frame(spark, [r for r in rows if r["journey_id"] == "a"])
    out = friction_occurrences(journeys, events_frame(spark, rows), only("error_event"), ERRORS)
    assert [(r.event_id, r.detail) for r in out.collect()] == [("a-1", "form_error on web:/signup")]
    assert friction_occurrences(journeys, events_frame(spark, rows), only("error_event"), ["page_view"]) \
        .select("event_id").collect()[0][0] == "a-2"


def test_rage_click_needs_three_consecutive_clicks_each_strictly_under_the_gap(spark):
    coupon = dict(event_type="click", page_path="/cart", element_id="#apply-coupon")
    rows = [
        # 4 clicks 0.5/0.4/0.4 s apart: one rage click, attributed to the third
        *[ev("a", i + 1, t, **coupon) for i, t in enumerate([0, 0.5, 0.9, 1.3])],
        # exactly 1 s apart: not strictly less
        *[ev("b", i + 1, t, **coupon) for i, t in enumerate([0, 1.0, 2.0])],
        # another event in between breaks the burst
        ev("c", 1, 0, **coupon), ev("c", 2, 0.2, **coupon), ev("c", 3, 0.4, "page_view", "/cart"),
        ev("c", 4, 0.6, **coupon),
        # another element breaks it too
        ev("d", 1, 0, **coupon), ev("d", 2, 0.2, "click", "/cart", element_id="#checkout"), ev("d", 3, 0.4, **coupon),
    ]
    assert detect(spark, rows, only("rage_click")) == [("a", "rage_click", "a-3", "4 clicks on #apply-coupon in 1.3 s")]
    assert detect(spark, rows, only("rage_click", min_clicks=4)) == [
        ("a", "rage_click", "a-4", "4 clicks on #apply-coupon in 1.3 s")]


def test_loop_by_revisits_and_by_back_and_forth_once_per_step(spark):
    rows = [
        # /signup viewed 3 times with the form's events between: loop at the third view
        ev("a", 1, 0, "page_view", "/signup"), ev("a", 2, 5, "form_error", "/signup"),
        ev("a", 3, 10, "page_view", "/signup"), ev("a", 4, 15, "click", "/signup", element_id="#submit"),
        ev("a", 5, 20, "page_view", "/signup"),
        # A B A B A: A's loop at its return, B's at its return, nothing more
        *[ev("b", i + 1, 10 * i, "page_view", p) for i, p in enumerate(["/cart", "/checkout", "/cart", "/checkout",
                                                                         "/cart"])],
        # two views in one session and one in the next: no loop
        ev("c", 1, 0, "page_view", "/signup"), ev("c", 2, 5, "page_view", "/signup"),
        ev("c", 3, 4000, "page_view", "/signup", session="s2"),
    ]
    assert detect(spark, rows, only("loop")) == [
        ("a", "loop", "a-5", "/signup visited 3 times in the session"),
        ("b", "loop", "b-3", "back to /cart after /checkout"),
        ("b", "loop", "b-4", "back to /checkout after /cart"),
    ]
    assert detect(spark, rows, only("loop", detect_back_and_forth=False)) == [
        ("a", "loop", "a-5", "/signup visited 3 times in the session"),
        ("b", "loop", "b-5", "/cart visited 3 times in the session"),
    ]


def test_stall_is_a_gap_above_the_touchpoints_percentile_of_its_start_date_then_exit(spark):
    gaps = {"j1": 10, "j2": 20, "j3": 30, "j4": 40, "j5": 100}
    rows = [r for jid, g in gaps.items() for r in (ev(jid, 1, 0, "page_view", "/p"), ev(jid, 2, g, "page_view", "/q"))]
    # another start date: a huge gap that would lift a pooled percentile above 100 s
    rows += [ev("k", 1, 0, "page_view", "/p"), ev("k", 2, 1000, "page_view", "/q")]
    # the long gap is not followed by the session's end
    rows += [ev("m", 1, 0, "page_view", "/p"), ev("m", 2, 500, "page_view", "/q"), ev("m", 3, 500, "page_view", "/r")]
    starts = {"k": date(2026, 1, 6), "m": date(2026, 1, 7)}
    # p95 of 10, 20, 30, 40, 100 with linear interpolation: 40 + 0.8 * 60 = 88
    got = detect(spark, rows, only("stall", min_samples=5, min_gap_seconds=0.0), start_date=starts)
    assert got == [("j5", "stall", "j5-1", "100 s at web:/p before exit (limit 88 s)"),
                   # a date with fewer samples than min_samples: the floor alone
                   ("k", "stall", "k-1", "1000 s at web:/p before exit (limit 0 s)")]
    # the floor wins over a lower percentile
    assert [g[2] for g in detect(spark, rows, only("stall", min_samples=5, min_gap_seconds=200.0),
                                 start_date=starts)] == ["k-1"]


def test_dead_end_is_an_error_that_ends_its_session(spark):
    rows = [
        ev("a", 1, 0, "page_view", "/search"), ev("a", 2, 5, "error_page", "/search"),
        ev("a", 3, 4000, "page_view", "/", session="s2"),  # the journey goes on in a new session
        ev("b", 1, 0, "error_page", "/search"), ev("b", 2, 5, "page_view", "/"),  # the session goes on
    ]
    assert detect(spark, rows, only("dead_end")) == [("a", "dead_end", "a-2", "session ended after error_page")]


def test_escalation_is_a_call_within_the_window_after_a_digital_session_without_conversion(spark):
    cart = dict(page_path="/cart", stage="purchase_intent")
    rows = [
        ev("a", 1, 0, **cart), ev("a", 2, 60, **cart), call("a", 3, 60 + 24 * HOUR, queue="sales"),
        ev("b", 1, 0, **cart), call("b", 2, 60 + 25 * HOUR),             # too late
        ev("c", 1, 0, **cart), call("c", 2, 600), ev("c", 3, 1200, **cart),  # called during the session
        call("d", 1, 0), call("d", 2, HOUR),                               # no digital session before
    ]
    assert detect(spark, rows, only("escalation_to_call")) == [
        ("a", "escalation_to_call", "a-3", "call 24.0 h after a web session that ended on web:/cart")]
    j = journeys_frame(spark, rows)
    out = friction_occurrences(j, events_frame(spark, rows), only("escalation_to_call"), ERRORS).collect()
    # the call has no stage of its own: it takes the session's
    assert [(r.touchpoint, r.stage, r.channel) for r in out] == [("call:sales", "purchase_intent", "phone")]
    out = friction_occurrences(j, events_frame(spark, rows), only("escalation_to_call", inherit_stage=False),
                               ERRORS).collect()
    assert [r.stage for r in out] == ["(none)"]


def test_repeat_contact_is_attributed_to_the_call_that_did_not_resolve(spark):
    rows = [call("a", 1, 0), call("a", 2, 6 * DAY_S, queue="billing"), call("a", 3, 6 * DAY_S + HOUR),
            call("b", 1, 0), call("b", 2, 8 * DAY_S)]
    assert detect(spark, rows, only("repeat_contact")) == [
        ("a", "repeat_contact", "a-1", "called again 144.0 h later (call:billing)"),
        ("a", "repeat_contact", "a-2", "called again 1.0 h later (call:general)"),
    ]


def test_long_queue_wait_is_strictly_above_the_limit_and_ignores_junk(spark):
    rows = [call("a", 1, 0, queue="payments", wait_seconds=601), call("a", 2, 2 * HOUR, wait_seconds=600),
            call("a", 3, 4 * HOUR, wait_seconds="n/a"), call("a", 4, 6 * HOUR),
            {**call("a", 5, 8 * HOUR, wait_seconds=900), "event_type": "outbound_call"}]
    assert detect(spark, rows, only("long_queue_wait")) == [
        ("a", "long_queue_wait", "a-1", "waited 601 s in call:payments")]


def test_abandoned_call_reads_the_disposition(spark):
    rows = [call("a", 1, 0, disposition="Abandoned", wait_seconds=95), call("a", 2, HOUR, disposition="resolved"),
            call("a", 3, 2 * HOUR, disposition="abandoned")]
    assert detect(spark, rows, only("abandoned_call")) == [
        ("a", "abandoned_call", "a-1", "abandoned in call:general after 95 s"),
        ("a", "abandoned_call", "a-3", "abandoned in call:general"),
    ]


def test_multiple_transfers_from_the_minimum(spark):
    rows = [call("a", 1, 0, transfers=2), call("a", 2, HOUR, transfers=1), call("a", 3, 2 * HOUR, transfers="x")]
    assert detect(spark, rows, only("multiple_transfers")) == [("a", "multiple_transfers", "a-1", "2 transfers")]
    assert detect(spark, rows, only("multiple_transfers", min_transfers=1)) == [
        ("a", "multiple_transfers", "a-1", "2 transfers"), ("a", "multiple_transfers", "a-2", "1 transfers")]


def test_complaint_is_an_opened_complaint_case(spark):
    def crm(step, event_type, category):
        return ev("a", step, step * HOUR, event_type, None, channel="crm", stage=None,
                  touchpoint=f"crm:{event_type.split('_')[0]}:{category}", attributes={"category": category})
    rows = [crm(1, "complaint_opened", "payment"), crm(2, "complaint_closed", "payment"),
            crm(3, "case_opened", "order_support")]
    assert detect(spark, rows, only("complaint")) == [("a", "complaint", "a-1", "complaint_opened: payment")]


def test_low_survey_score_at_or_below_the_limits(spark):
    rows = [call("a", 1, 0), call("a", 2, HOUR), call("a", 3, 2 * HOUR), call("a", 4, 3 * HOUR),
            call("a", 5, 4 * HOUR)]
    for row, (nps, ces) in zip(rows, [(6, None), (7, None), (None, 3), (None, 4), (2, 1)]):
        row.update(nps_score=nps, ces_score=ces)
    assert detect(spark, rows, only("low_survey_score")) == [
        ("a", "low_survey_score", "a-1", "nps 6"), ("a", "low_survey_score", "a-3", "ces 3"),
        ("a", "low_survey_score", "a-5", "nps 2, ces 1")]


def test_a_disabled_signal_is_not_detected(spark):
    rows = [ev("a", 1, 0, "error_page", "/search"), ev("a", 2, 5, "page_view", "/")]
    assert [g[1] for g in detect(spark, rows, only("error_event"))] == ["error_event"]
    # every signal disabled: an empty frame with the contract's columns
    assert detect(spark, rows, only("error_event", enabled=False)) == []


def test_config_defaults_are_the_documented_thresholds():
    s = FrictionConfig().signals
    assert (s.rage_click.min_clicks, s.rage_click.max_gap_seconds, s.loop.min_visits) == (3, 1.0, 3)
    assert (s.escalation_to_call.escalation_hours, s.repeat_contact.repeat_contact_days) == (24.0, 7.0)
    assert (s.long_queue_wait.long_wait_seconds, s.multiple_transfers.min_transfers) == (600.0, 2)
    assert (s.low_survey_score.nps_max, s.low_survey_score.ces_max) == (6, 3)
    with pytest.raises(ValueError):
        FrictionConfig.model_validate({"signals": {"rage_click": {"min_clicks": 1}}})
    assert timedelta(hours=s.escalation_to_call.escalation_hours) == timedelta(days=1)
