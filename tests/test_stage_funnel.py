"""stage_funnel on hand-made journeys; every expected number is worked out in the comments
(and the same example is walked through in docs/analytics.md)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.analytics.funnel import stage_funnel
from jobs.contracts import table_contract
from output_suite import check_output

STAGES = ["awareness", "consideration", "purchase"]
D1, D2 = date(2026, 3, 2), date(2026, 3, 3)
T = datetime(2026, 3, 2, 9, 0, 0)


def journey(jid, status, reached, closed_at, *, day=D1, channel="web", device="mobile", segment="A",
            region="north", customer=None):
    """A journeys row; closed_at maps each closed-funnel stage to seconds after T."""
    furthest = reached[-1] if reached else None
    started = datetime.combine(day, T.time())
    closed = [s for s in STAGES if s in closed_at]
    return {
        "journey_id": jid, "customer_key": customer or f"c-{jid}", "status": status,
        "started_at": started, "ended_at": started + timedelta(hours=1),
        "converted_at": started + timedelta(hours=1) if status == "converted" else None,
        "duration_seconds": 3600.0, "n_events": 3, "n_sessions": 1, "channels": [channel],
        "first_touch_channel": channel, "first_touch_touchpoint": f"{channel}:/", "first_touch_device": device,
        "first_touch_utm_source": None, "first_touch_utm_campaign": None,
        "last_touch_channel": channel, "last_touch_touchpoint": f"{channel}:/",
        "stages_reached": reached, "stages_reached_closed": closed, "furthest_stage": furthest,
        "furthest_stage_order": STAGES.index(furthest) + 1 if furthest else None,
        "dropoff_stage": furthest if status == "dropped" else None,
        "stage_reached_at": {s: started for s in reached},
        "closed_stage_reached_at": {s: started + timedelta(seconds=closed_at[s]) for s in closed},
        "n_error_events": 0, "first_event_id": f"e-{jid}", "segment": segment, "region": region,
        "journey_start_date": day,
    }


def journeys_frame(spark, rows):
    schema = table_contract("journeys").spark_schema()
    return spark.createDataFrame([Row(**r) for r in rows], schema)


# j1 went through all three stages in order and converted; j2 reached consideration in order and
# dropped there; j3 is still open after awareness; j4 entered at consideration (nothing in the
# closed funnel) and dropped; j5 converted but skipped consideration, so its closed funnel stops at
# awareness; j6 (next day) has no stage at all.
EXAMPLE = [
    journey("j1", "converted", STAGES, {"awareness": 0, "consideration": 100, "purchase": 400}),
    journey("j2", "dropped", ["awareness", "consideration"], {"awareness": 0, "consideration": 300},
            device="desktop", segment="B"),
    journey("j3", "open", ["awareness"], {"awareness": 0}, channel="app", segment=None),
    journey("j4", "dropped", ["consideration"], {}),
    journey("j5", "converted", ["awareness", "purchase"], {"awareness": 0}),
    journey("j6", "open", [], {}, day=D2),
]


@pytest.fixture(scope="module")
def funnel(spark):
    return stage_funnel(journeys_frame(spark, EXAMPLE), STAGES).cache()


def _rows(df, breakdown="all", value="all", day=D1):
    return {r["stage"]: r for r in df.where((F.col("breakdown") == breakdown) & (F.col("breakdown_value") == value)
                                             & (F.col("journey_start_date") == day)).collect()}


def test_all_breakdown_hand_computed(spark, funnel):
    cols = ["journey_start_date", "breakdown", "breakdown_value", "stage", "stage_order", "journeys_started",
            "journeys_reached", "journeys_reached_closed", "previous_stage_journeys_reached_closed",
            "journeys_progressed", "journeys_dropped", "journeys_in_progress", "journeys_converted",
            "journeys_dropped_open_funnel", "reach_rate", "step_conversion_rate", "dropoff_rate",
            "median_seconds_to_next_stage", "p90_seconds_to_next_stage"]
    expected = [
        # awareness: reached by j1 j2 j3 j5 (open and closed); j1 j2 go on to consideration in order
        # (100 s and 300 s: median 200, p90 100 + 0.9 * 200 = 280); j3 waits here, j5 converted from here
        (D1, "all", "all", "awareness", 1, 5, 4, 4, 5, 2, 0, 1, 1, 0, 0.8, 0.5, 0.0, 200.0, 280.0),
        # consideration: open j1 j2 j4, closed j1 j2; j1 goes on (300 s); j2 drops here (closed);
        # j2 and j4 both have dropoff_stage consideration (open funnel)
        (D1, "all", "all", "consideration", 2, 5, 3, 2, 4, 1, 1, 0, 0, 2, 0.4, 0.5, 0.5, 300.0, 300.0),
        # purchase: open j1 j5, closed j1, which converted here; last stage: nothing to progress to
        (D1, "all", "all", "purchase", 3, 5, 2, 1, 2, None, 0, 0, 1, 0, 0.2, None, 0.0, None, None),
        # the next day has one stage-less journey: every stage still gets its row, with zeros
        (D2, "all", "all", "awareness", 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0.0, None, None, None, None),
        (D2, "all", "all", "consideration", 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, None, None, None, None),
        (D2, "all", "all", "purchase", 3, 1, 0, 0, 0, None, 0, 0, 0, 0, 0.0, None, None, None, None),
    ]
    got = funnel.where("breakdown = 'all'").select(*cols)
    assertDataFrameEqual(got, spark.createDataFrame(expected, got.schema))


def test_open_journey_is_in_progress_not_dropped(funnel):
    app = _rows(funnel, "channel", "app")      # j3 only: open after awareness
    assert app["awareness"]["journeys_in_progress"] == 1
    assert app["awareness"]["journeys_dropped"] == 0 and app["awareness"]["dropoff_rate"] == 0.0


def test_closed_funnel_needs_every_earlier_stage_in_order(funnel):
    r = _rows(funnel)
    # j4 reached consideration without awareness, j5 purchase without consideration
    assert r["consideration"]["journeys_reached"] - r["consideration"]["journeys_reached_closed"] == 1
    assert r["purchase"]["journeys_reached"] - r["purchase"]["journeys_reached_closed"] == 1


def test_drop_off_is_counted_at_the_furthest_closed_stage(funnel):
    r = _rows(funnel)
    # j2 stops at consideration in both senses; j4 never entered the closed funnel
    assert [r[s]["journeys_dropped"] for s in STAGES] == [0, 1, 0]
    assert [r[s]["journeys_dropped_open_funnel"] for s in STAGES] == [0, 2, 0]


def test_breakdown_values_and_unknown(funnel):
    seg = {v: _rows(funnel, "segment", v)["awareness"]["journeys_started"] for v in ("A", "B", "(unknown)")}
    assert seg == {"A": 3, "B": 1, "(unknown)": 1}      # j3 has no segment


def test_reconciles_with_journeys(spark, funnel):
    journeys = journeys_frame(spark, EXAMPLE)
    per_day = {r[0]: r[1] for r in journeys.groupBy("journey_start_date").count().collect()}
    rows = funnel.collect()
    all_rows = [r for r in rows if r["breakdown"] == "all"]
    for r in all_rows:
        assert r["journeys_started"] == per_day[r["journey_start_date"]]
    # every breakdown splits the `all` row
    for r in all_rows:
        for bd in ("segment", "channel", "device", "region"):
            parts = [x for x in rows if x["breakdown"] == bd and x["journey_start_date"] == r["journey_start_date"]
                     and x["stage"] == r["stage"]]
            for col in ("journeys_started", "journeys_reached", "journeys_reached_closed", "journeys_dropped",
                        "journeys_in_progress", "journeys_converted", "journeys_dropped_open_funnel"):
                assert sum(x[col] for x in parts) == r[col], (bd, col, r["stage"])
    dropped = [j for j in EXAMPLE if j["status"] == "dropped"]
    assert sum(r["journeys_dropped"] for r in all_rows) == sum(1 for j in dropped if j["stages_reached_closed"])
    assert sum(r["journeys_dropped_open_funnel"] for r in all_rows) == sum(1 for j in dropped if j["furthest_stage"])
    # a journey that reached a stage in order either goes on or stops there (dropped, open or converted)
    for r in all_rows:
        assert r["journeys_reached_closed"] == ((r["journeys_progressed"] or 0) + r["journeys_dropped"]
                                                + r["journeys_in_progress"] + r["journeys_converted"])


def test_schema_is_the_contract(funnel):
    # names, order and types; nullability is the contract's business when the table is read back
    assert _types(funnel.schema) == _types(table_contract("stage_funnel").spark_schema())


def _types(schema):
    return [(f.name, f.dataType) for f in schema]


def _validate(df, tmp_path):
    return check_output(df, "stage_funnel", tmp_path)


def test_output_suite_catches_a_growing_funnel(funnel, tmp_path):
    broken = funnel.withColumn("journeys_reached_closed", F.when(F.col("stage") == "purchase", F.lit(5).cast("long"))
                               .otherwise(F.col("journeys_reached_closed")))
    report = _validate(broken, tmp_path / "bad")
    assert not report.success
