"""Sessions, journeys, stages and status on a hand-made event sequence."""
from __future__ import annotations

from datetime import datetime, timedelta


from pyspark.sql import functions as F

from jobs.build import journey_settings
from jobs.journeys.sequence import sequence
from jobs.journeys.summary import PARTIAL_SCHEMA, SESSION_SCHEMA, finalize, summarize

T = datetime(2026, 2, 2, 10, 0, 0)
COLS = ("event_id string, customer_key string, source string, channel string, event_type string, touchpoint string, "
        "page_path string, event_at timestamp, device_type string, utm_source string, utm_campaign string")


def test_sessions_journeys_stages_and_status(spark, base_config):
    s = journey_settings(base_config)
    rows = [
        ("a1", "k", "clickstream", "web", "page_view", "web:/", "/", T),                        # awareness
        ("a2", "k", "clickstream", "web", "login", "web:/login", "/login", T + timedelta(minutes=30)),  # gap = cutoff
        ("a3", "k", "clickstream", "web", "page_view", "web:/products/x", "/products/x", T + timedelta(minutes=61)),
        ("a4", "k", "calls", "phone", "call", "call:sales", None, T + timedelta(minutes=62)),
        ("a5", "k", "clickstream", "web", "add_to_cart", "web:/products/x", "/products/x", T + timedelta(minutes=63)),
        ("a6", "k", "clickstream", "web", "purchase", "web:/checkout/confirmation", "/checkout/confirmation",
         T + timedelta(minutes=64)),
        ("a7", "k", "clickstream", "web", "page_view", "web:/account", "/account", T + timedelta(minutes=64)),
        ("b1", "k", "clickstream", "web", "page_view", "web:/blog/y", "/blog/y", T + timedelta(days=40)),
        ("c1", "k", "clickstream", "web", "page_view", "web:/pricing", "/pricing", T + timedelta(days=80)),
    ]
    events = spark.createDataFrame([r + ("desktop", None, None) for r in rows], COLS)
    out = sequence(events, spark.createDataFrame([], PARTIAL_SCHEMA), spark.createDataFrame([], SESSION_SCHEMA), s)
    got = {r["event_id"]: r for r in out.collect()}
    j1 = {got[e]["journey_id"] for e in ("a1", "a2", "a3", "a4", "a5", "a6", "a7")}
    assert len(j1) == 1          # an event at the purchase's instant goes before it: the purchase is the last step
    assert got["b1"]["journey_id"] not in j1              # after a conversion a new journey starts
    assert got["c1"]["journey_id"] != got["b1"]["journey_id"]  # 40 days >= the 30-day timeout
    assert [got[e]["step_number"] for e in ("a1", "a2", "a3", "a4", "a5", "a7", "a6")] == [1, 2, 3, 4, 5, 6, 7]
    assert got["a1"]["session_id"] == got["a2"]["session_id"]  # a gap equal to the cutoff continues
    assert got["a3"]["session_id"] != got["a2"]["session_id"]  # 31 minutes starts a new one
    assert got["a4"]["session_id"] not in {got[e]["session_id"] for e in ("a3", "a5")}  # sessions per channel
    assert got["a2"]["stage"] == "awareness"              # login inherits the previous stage
    assert got["a4"]["stage"] is None                     # no rule for calls
    assert [got[e]["stage"] for e in ("a3", "a5", "a6")] == ["consideration", "purchase_intent", "purchase"]
    as_of = T + timedelta(days=85)
    journeys = {r["first_event_id"]: r for r in finalize(summarize(out, spark.createDataFrame([], PARTIAL_SCHEMA)),
                                                         list(s.stages), as_of, 30, "UTC").collect()}
    first = journeys["a1"]
    assert first["status"] == "converted" and first["n_events"] == 7 and first["n_sessions"] == 3
    assert first["stages_reached"] == ["awareness", "consideration", "purchase_intent", "purchase", "use_loyalty"]
    # use_loyalty came before the purchase, so the closed funnel stops at purchase
    assert first["stages_reached_closed"] == ["awareness", "consideration", "purchase_intent", "purchase"]
    assert first["channels"] == ["phone", "web"] and first["dropoff_stage"] is None
    assert journeys["b1"]["status"] == "dropped" and journeys["b1"]["dropoff_stage"] == "awareness"
    assert journeys["c1"]["status"] == "open"             # 5 days before as_of, under the timeout
    # closed funnel: a journey entering at consideration never reaches it in the closed sense
    assert journeys["c1"]["stages_reached"] == ["consideration"] and journeys["c1"]["stages_reached_closed"] == []


def test_the_carried_journey_and_sessions_continue_across_the_window_edge(spark, base_config):
    s = journey_settings(base_config)
    rows = [
        # k: its carried journey (4 events, last stage consideration, last at T) continues
        ("k1", "k", "clickstream", "web", "login", "web:/login", "/login", T + timedelta(minutes=20)),
        ("k2", "k", "calls", "phone", "call", "call:sales", None, T + timedelta(minutes=25)),
        ("k3", "k", "clickstream", "web", "page_view", "web:/", "/", T + timedelta(hours=3)),
        ("k4", "k", "clickstream", "web", "login", "web:/login", "/login", T + timedelta(hours=3, minutes=1)),
        # g: its carried journey ended with a purchase, so the first event here starts a new one
        ("g1", "g", "clickstream", "web", "login", "web:/login", "/login", T + timedelta(minutes=5)),
        ("g2", "g", "clickstream", "web", "page_view", "web:/pricing", "/pricing", T + timedelta(minutes=6)),
        # t: its carried journey timed out (31 days)
        ("t1", "t", "clickstream", "web", "page_view", "web:/", "/", T + timedelta(days=31)),
    ]
    events = spark.createDataFrame([r + ("desktop", None, None) for r in rows], COLS)
    cursor = spark.createDataFrame(
        [(key, f"J{key}", T - timedelta(days=1), last, goal, stage, 4) for key, last, goal, stage in
         (("k", T, False, "consideration"), ("g", T, True, "purchase"), ("t", T, False, "awareness"))],
        "customer_key string, journey_id string, started_at timestamp, last_event_at timestamp, "
        "last_is_goal boolean, last_stage string, n_events long")
    cursor = _widen(spark, cursor)
    sessions = spark.createDataFrame([("k", "web", "Sweb", T), ("k", "phone", "Sphone", T - timedelta(hours=2)),
                                      ("g", "web", "Sg", T)], SESSION_SCHEMA)
    got = {r["event_id"]: r for r in sequence(events, cursor, sessions, s).collect()}
    assert [got[e]["journey_id"] for e in ("k1", "k2", "k3", "k4")] == ["Jk"] * 4
    assert [got[e]["step_number"] for e in ("k1", "k2", "k3", "k4")] == [5, 6, 7, 8]
    assert got["k1"]["stage"] == "consideration"          # inherited from the carried journey's last stage
    assert got["k4"]["stage"] == "awareness"              # from k3, inside the window
    assert got["k1"]["session_id"] == "Sweb"              # 20 minutes after the carried web session
    assert got["k2"]["session_id"] not in {"Sphone", "Sweb"}  # the phone session ended over 2 hours before
    assert got["k3"]["session_id"] not in {"Sweb", got["k1"]["session_id"]}
    assert got["k4"]["session_id"] == got["k3"]["session_id"]
    assert got["g1"]["journey_id"] == got["g2"]["journey_id"] != "Jg"
    assert [got[e]["step_number"] for e in ("g1", "g2")] == [1, 2]
    assert got["g1"]["stage"] is None                     # nothing to inherit in a new journey
    assert got["g1"]["session_id"] == "Sg"                # sessions run across journey boundaries
    assert got["t1"]["journey_id"] != "Jt" and got["t1"]["step_number"] == 1


def _widen(spark, cursor):
    """The cursor's columns the test sets, the rest of PARTIAL_SCHEMA null."""
    full = spark.createDataFrame([], PARTIAL_SCHEMA)
    return cursor.select(*[F.col(f.name) if f.name in cursor.columns else F.lit(None).cast(f.dataType).alias(f.name)
                           for f in full.schema.fields])
