"""journey_paths on hand-made journeys (the same example is worked through in docs/analytics.md)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from jobs.analytics.paths import journey_paths
from jobs.contracts import table_contract
from output_suite import check_output

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)
T = datetime(2026, 3, 2, 9, 0, 0)

# journey -> (start date, status, duration, [(stage, touchpoint)] in step order)
JOURNEYS = {
    # repeats collapse, also across an event without a stage (the call)
    "p1": (D1, "converted", 100.0, [("aw", "web:/"), ("aw", "web:/"), ("co", "web:/products"), (None, "call:sales"),
                                    ("co", "web:/products"), ("pi", "web:/cart"), ("pu", "web:/confirmation")]),
    "p2": (D1, "dropped", 200.0, [("aw", "web:/"), ("co", "web:/products")]),
    "p3": (D1, "open", 50.0, [("aw", "web:/"), ("co", "web:/products"), ("co", "web:/products")]),
    "p4": (D1, "dropped", 300.0, [(None, "call:sales")]),
    # six stages: cut after four
    "p5": (D1, "converted", 400.0, [("aw", "web:/"), ("co", "web:/"), ("aw", "web:/"), ("co", "web:/"),
                                    ("pi", "web:/"), ("pu", "web:/")]),
    "q1": (D2, "open", 10.0, [("aw", "web:/")]),
}
MAX_LEN, TOP_N = 4, 2


def frames(spark):
    jrows, erows = [], []
    for jid, (day, status, duration, events) in JOURNEYS.items():
        start = datetime.combine(day, T.time())
        jrows.append(Row(
            journey_id=jid, customer_key=f"c-{jid}", status=status, started_at=start,
            ended_at=start + timedelta(seconds=duration),
            converted_at=start + timedelta(seconds=duration) if status == "converted" else None,
            duration_seconds=duration, n_events=len(events), n_sessions=1, channels=["web"],
            first_touch_channel="web", first_touch_touchpoint=events[0][1], first_touch_device="mobile",
            first_touch_utm_source=None, first_touch_utm_campaign=None, last_touch_channel="web",
            last_touch_touchpoint=events[-1][1], stages_reached=[], stages_reached_closed=[], furthest_stage=None,
            furthest_stage_order=None, dropoff_stage=None, stage_reached_at={}, closed_stage_reached_at={},
            n_error_events=0, first_event_id=f"{jid}-1", segment="A", region="north", journey_start_date=day))
        for n, (stage, touchpoint) in enumerate(events, start=1):
            erows.append(Row(
                event_id=f"{jid}-{n}", customer_key=f"c-{jid}", journey_id=jid, session_id=f"s-{jid}", step_number=n,
                stage=stage, stage_order=None, is_conversion=False, is_error=False, source="clickstream",
                channel="web", event_type="page_view", touchpoint=touchpoint, event_at=start + timedelta(seconds=n),
                device_type="mobile", page_path=None, element_id=None, utm_source=None, utm_medium=None,
                utm_campaign=None, amount=None, nps_score=None, ces_score=None, csat_score=None, attributes=None,
                event_date=day))
    return (spark.createDataFrame(jrows, table_contract("journeys").spark_schema()),
            spark.createDataFrame(erows, table_contract("journey_events").spark_schema()))


@pytest.fixture(scope="module")
def inputs(spark):
    return frames(spark)


@pytest.fixture(scope="module")
def paths(inputs):
    return journey_paths(*inputs, max_path_length=MAX_LEN, top_n=TOP_N).cache()


def test_stage_paths_top_n_and_other(spark, paths):
    cols = ["journey_start_date", "path", "rank", "variants", "journeys", "converted_journeys", "conversion_rate",
            "median_duration_seconds"]
    got = paths.where("record_type = 'path' and path_type = 'stage'").select(*cols)
    expected = [
        (D1, "aw > co", 1, 1, 2, 0, 0.0, 125.0),                   # p2 p3: median of 200 and 50
        (D1, "(no stage)", 2, 1, 1, 0, 0.0, 300.0),                # p4; ties of 1 journey go by path
        (D1, "(other)", None, 2, 2, 2, 1.0, 250.0),                # p1 aw > co > pi > pu, p5 cut
        (D2, "aw", 1, 1, 1, 0, 0.0, 10.0),
    ]
    assertDataFrameEqual(got, spark.createDataFrame(expected, got.schema))


def test_collapse_and_truncation(inputs):
    out = journey_paths(*inputs, max_path_length=MAX_LEN, top_n=10)
    got = {r["path"] for r in out.where("record_type = 'path' and journey_start_date = '2026-03-02'").collect()}
    assert "aw > co > pi > pu" in got                              # p1: aw aw co - co -> aw co
    assert "aw > co > aw > co > …" in got                          # p5: six stages, four kept
    assert "web:/ > web:/products > call:sales > web:/products > …" in got   # p1's touchpoints
    assert "web:/ > web:/products" in got                          # p2, p3 (repeat collapsed)
    assert "(other)" not in got                                    # everything fits in the top 10


def test_stage_transitions_end_at_the_outcome(spark, paths):
    cols = ["journey_start_date", "step_index", "from_step", "to_step", "journeys", "converted_journeys",
            "conversion_rate", "median_duration_seconds"]
    got = paths.where("record_type = 'transition' and path_type = 'stage'").select(*cols)
    expected = [
        (D1, 1, "aw", "co", 4, 2, 0.5, 150.0),                      # p1 p2 p3 p5
        (D1, 1, "(no stage)", "(dropped)", 1, 0, 0.0, 300.0),       # p4
        (D1, 2, "co", "pi", 1, 1, 1.0, 100.0),
        (D1, 2, "co", "(dropped)", 1, 0, 0.0, 200.0),
        (D1, 2, "co", "(open)", 1, 0, 0.0, 50.0),
        (D1, 2, "co", "aw", 1, 1, 1.0, 400.0),
        (D1, 3, "pi", "pu", 1, 1, 1.0, 100.0),
        (D1, 3, "aw", "co", 1, 1, 1.0, 400.0),
        (D1, 4, "pu", "(converted)", 1, 1, 1.0, 100.0),
        (D1, 4, "co", "…", 1, 1, 1.0, 400.0),
        (D1, 5, "…", "(converted)", 1, 1, 1.0, 400.0),
        (D2, 1, "aw", "(open)", 1, 0, 0.0, 10.0),
    ]
    assertDataFrameEqual(got, spark.createDataFrame(expected, got.schema))


def test_reconciles_with_journeys(paths):
    rows = paths.collect()
    for day in (D1, D2):
        started = [j for j in JOURNEYS.values() if j[0] == day]
        converted = sum(1 for j in started if j[1] == "converted")
        for path_type in ("stage", "touchpoint"):
            mine = [r for r in rows if r["journey_start_date"] == day and r["path_type"] == path_type]
            path_rows = [r for r in mine if r["record_type"] == "path"]
            first_moves = [r for r in mine if r["record_type"] == "transition" and r["step_index"] == 1]
            outcomes = [r for r in mine if r["record_type"] == "transition"
                        and r["to_step"] in ("(converted)", "(dropped)", "(open)")]
            for part in (path_rows, first_moves, outcomes):
                assert sum(r["journeys"] for r in part) == len(started), (day, path_type)
                assert sum(r["converted_journeys"] for r in part) == converted, (day, path_type)
            assert len([r for r in path_rows if r["path"] != "(other)"]) <= TOP_N


def test_schema_is_the_contract(paths):
    assert [(f.name, f.dataType) for f in paths.schema] == \
        [(f.name, f.dataType) for f in table_contract("journey_paths").spark_schema()]


def _validate(df, tmp_path):
    return check_output(df, "journey_paths", tmp_path)


def test_output_suite_catches_a_duplicate_path(paths, tmp_path):
    duplicate = paths.unionByName(paths.where("record_type = 'path' and rank = 1"))
    assert not _validate(duplicate, tmp_path / "bad").success
