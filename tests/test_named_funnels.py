"""Named funnels on hand-made journeys: one rule per test, each with the journey that shows it.
Every scenario uses its own event types, so the funnels do not see each other's journeys."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.analytics.funnel_config import NamedFunnel, check_unique_names
from jobs.analytics.named_funnels import funnel_progress, funnel_results
from jobs.contracts import table_contract
from output_suite import check_output

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)
T = datetime(2026, 3, 2, 9, 0, 0)
US = timedelta(microseconds=1)
HOUR = timedelta(hours=1)


def funnel(name, steps, **kw):
    return NamedFunnel.model_validate({"name": name, "steps": [{"event_type": s} for s in steps],
                                       "window_hours": 1, **kw})


FUNNELS = [
    funnel("sequential", ["o_a", "o_b", "o_c"], order="sequential"),
    funnel("strict", ["o_a", "o_b", "o_c"], order="strict"),
    funnel("any", ["o_a", "o_b", "o_c"], order="any"),
    funnel("window", ["w_a", "w_b"]),
    funnel("exclusion", ["x_a", "x_b", "x_c"], exclusions=[{"event_type": "x_x"}]),
    funnel("exclusion_2_3", ["x_a", "x_b", "x_c"], exclusions=[{"event_type": "x_x", "between": [2, 3]}]),
    funnel("any_exclusion", ["y_a", "y_b", "y_c"], order="any", exclusions=[{"event_type": "y_x"}]),
    funnel("hold", ["h_a", "h_b"], hold_constant=["attributes.product_id"]),
    funnel("customers", ["c_a", "c_b", "c_c"]),
]

# journey id -> [(event_type, time after the journey's start, attributes)] in step order
SCENARIOS = {
    # order modes
    "jA": [("o_a", 0, None), ("o_x", 10, None), ("o_b", 20, None), ("o_c", 30, None)],
    "jB": [("o_a", 0, None), ("o_c", 10, None), ("o_b", 20, None)],
    "jC": [("o_b", 0, None), ("o_a", 10, None), ("o_c", 20, None)],
    "jD": [("o_a", 0, None), ("o_b", 10, None), ("o_c", 20, None)],
    # window: exactly at the end counts, one microsecond later does not; later step-1 events never restart
    "jW1": [("w_a", 0, None), ("w_b", HOUR, None)],
    "jW2": [("w_a", 0, None), ("w_b", HOUR + US, None)],
    "jW3": [("w_a", 0, None), ("w_a", 3000, None), ("w_b", 4000, None)],
    # exclusions
    "jE1": [("x_a", 0, None), ("x_x", 10, None), ("x_b", 20, None), ("x_c", 30, None)],
    "jE2": [("x_a", 0, None), ("x_b", 10, None), ("x_x", 20, None), ("x_c", 30, None)],
    "jE3": [("x_x", 0, None), ("x_a", 10, None), ("x_b", 20, None), ("x_c", 30, None)],
    # exclusions in any order apply until every step is done, whichever step came first
    "jY1": [("y_a", 0, None), ("y_c", 10, None), ("y_x", 20, None), ("y_b", 30, None)],
    "jY2": [("y_a", 0, None), ("y_c", 10, None), ("y_b", 20, None), ("y_x", 30, None)],
    # hold constant: the product of step 2 must be step 1's
    "jH1": [("h_a", 0, {"product_id": "p1"}), ("h_b", 10, {"product_id": "p2"}), ("h_b", 20, {"product_id": "p1"})],
    "jH2": [("h_a", 0, {"product_id": "p1"}), ("h_b", 10, {"product_id": "p2"})],
    "jH3": [("h_a", 0, {"product_id": "p1"}), ("h_b", 10, None)],
    # per customer: k1 has two journeys on D1 (steps 1 and 3), k2 one on D1 (step 2) and one on D2
    "k1a": [("c_a", 0, None)],
    "k1b": [("c_a", 0, None), ("c_b", 100, None), ("c_c", 200, None)],
    "k2a": [("c_a", 0, None), ("c_b", 50, None)],
    "k2b": [("c_a", 0, None), ("c_b", 10, None), ("c_c", 20, None)],
    "k3": [("page_view", 0, None)],         # enters nothing
}
CUSTOMER = {"k1a": "k1", "k1b": "k1", "k2a": "k2", "k2b": "k2", "k3": "k3"}
START = {"k1a": T, "k1b": T + 2 * HOUR, "k2b": T + timedelta(days=1)}


def _at(offset):
    return offset if isinstance(offset, timedelta) else timedelta(seconds=offset)


def events_frame(spark, scenarios=SCENARIOS):
    rows = []
    for jid, events in scenarios.items():
        for n, (etype, offset, attrs) in enumerate(events, start=1):
            at = START.get(jid, T) + _at(offset)
            rows.append(Row(
                event_id=f"{jid}-{n}", customer_key=CUSTOMER.get(jid, f"c-{jid}"), journey_id=jid,
                session_id=f"s-{jid}", step_number=n, stage=None, stage_order=None, is_conversion=False,
                is_error=False, source="clickstream", channel="web", event_type=etype, touchpoint="web:/",
                event_at=at, device_type="mobile", page_path="/", element_id=None, utm_source=None,
                utm_medium=None, utm_campaign=None, amount=None, nps_score=None, ces_score=None, csat_score=None,
                attributes=attrs, event_date=at.date()))
    return spark.createDataFrame(rows, table_contract("journey_events").spark_schema())


def journeys_frame(spark, scenarios=SCENARIOS):
    rows = []
    for jid in scenarios:
        start = START.get(jid, T)
        rows.append(Row(
            journey_id=jid, customer_key=CUSTOMER.get(jid, f"c-{jid}"), status="open", started_at=start,
            ended_at=start, converted_at=None, duration_seconds=0.0, n_events=1, n_sessions=1, channels=["web"],
            first_touch_channel="web", first_touch_touchpoint="web:/", first_touch_device="mobile",
            first_touch_utm_source=None, first_touch_utm_campaign=None, last_touch_channel="web",
            last_touch_touchpoint="web:/", stages_reached=[], stages_reached_closed=[], furthest_stage=None,
            furthest_stage_order=None, dropoff_stage=None, stage_reached_at={}, closed_stage_reached_at={},
            n_error_events=0, first_event_id=f"{jid}-1", segment="A", region="north",
            journey_start_date=start.date()))
    return spark.createDataFrame(rows, table_contract("journeys").spark_schema())


@pytest.fixture(scope="module")
def progress(spark):
    rows = funnel_progress(events_frame(spark), FUNNELS).collect()
    return {(r["funnel_name"], r["journey_id"]): (r["n_reached"], r["seconds"]) for r in rows}


@pytest.fixture(scope="module")
def results(spark):
    return funnel_results(journeys_frame(spark), events_frame(spark), FUNNELS).cache()


def reached(progress, name, journeys):
    return [progress[(name, j)][0] for j in journeys]


def test_order_modes(progress):
    js = ["jA", "jB", "jC", "jD"]
    # jA: o_x comes between o_a and o_b; jB: o_c before o_b; jC: o_b before the entry o_a
    assert reached(progress, "sequential", js) == [3, 2, 1, 3]
    assert reached(progress, "strict", js) == [1, 1, 1, 3]
    # any order: jB does o_c then o_b; jC's o_b came before the entry, so it does not count
    assert reached(progress, "any", js) == [3, 3, 1, 3]
    # in any order a step counts from when all steps up to it are done: jB's o_b at 20 s
    assert progress[("any", "jB")][1] == [0.0, 20.0, 20.0]
    assert progress[("sequential", "jA")][1] == [0.0, 20.0, 30.0]


def test_window_end_is_inclusive_to_the_microsecond(progress):
    assert reached(progress, "window", ["jW1", "jW2"]) == [2, 1]
    assert progress[("window", "jW1")][1] == [0.0, 3600.0]


def test_later_step_one_does_not_restart_the_window(progress):
    # w_b is 4000 s after the first w_a (over the hour) though 1000 s after the second
    assert reached(progress, "window", ["jW3"]) == [1]


def test_exclusion_between_steps(progress):
    # default: between every two consecutive steps; an x_x before the entry does not count
    assert reached(progress, "exclusion", ["jE1", "jE2", "jE3"]) == [1, 2, 3]
    # between [2, 3]: only an x_x after step 2's event and before step 3's removes the entry
    assert reached(progress, "exclusion_2_3", ["jE1", "jE2", "jE3"]) == [3, 2, 3]


def test_exclusion_in_any_order(progress):
    # jY1: y_c is matched but step 2 is not yet reached when y_x comes; jY2: y_x after completion
    assert reached(progress, "any_exclusion", ["jY1", "jY2"]) == [1, 3]


def test_hold_constant(progress):
    # jH1: the p2 event does not match step 2, the later p1 event does (at 20 s)
    assert reached(progress, "hold", ["jH1", "jH2", "jH3"]) == [2, 1, 1]
    assert progress[("hold", "jH1")][1] == [0.0, 20.0]


def _table(df, name, unit, day=D1):
    return {r["step"]: r for r in df.where((F.col("funnel_name") == name) & (F.col("unit") == unit)
                                           & (F.col("breakdown") == "all") & (F.col("journey_start_date") == day))
            .collect()}


def test_per_journey_and_per_customer_counting(spark, results):
    cols = ["journey_start_date", "funnel_name", "unit", "step", "step_name", "population", "entered", "reached",
            "previous_step_reached", "conversion_rate_from_start", "conversion_rate_from_previous",
            "mean_seconds_from_entry", "median_seconds_from_entry", "p90_seconds_from_entry"]
    got = results.where("funnel_name = 'customers' and breakdown = 'all'").select(*cols)
    # D1 has 19 journeys of 18 customers (k1 has two); entered: k1a k1b k2a; D2: k2b only
    expected = [
        (D1, "customers", "journey", 1, "step 1", 19, 3, 3, 3, 1.0, 1.0, 0.0, 0.0, 0.0),
        (D1, "customers", "journey", 2, "step 2", 19, 3, 2, 3, 2 / 3, 2 / 3, 75.0, 75.0, 95.0),
        (D1, "customers", "journey", 3, "step 3", 19, 3, 1, 2, 1 / 3, 0.5, 200.0, 200.0, 200.0),
        # k1 counts once, at step 3 (k1b), with k1b's times; k2 at step 2
        (D1, "customers", "customer", 1, "step 1", 18, 2, 2, 2, 1.0, 1.0, 0.0, 0.0, 0.0),
        (D1, "customers", "customer", 2, "step 2", 18, 2, 2, 2, 1.0, 1.0, 75.0, 75.0, 95.0),
        (D1, "customers", "customer", 3, "step 3", 18, 2, 1, 2, 0.5, 0.5, 200.0, 200.0, 200.0),
        (D2, "customers", "journey", 1, "step 1", 1, 1, 1, 1, 1.0, 1.0, 0.0, 0.0, 0.0),
        (D2, "customers", "journey", 2, "step 2", 1, 1, 1, 1, 1.0, 1.0, 10.0, 10.0, 10.0),
        (D2, "customers", "journey", 3, "step 3", 1, 1, 1, 1, 1.0, 1.0, 20.0, 20.0, 20.0),
        (D2, "customers", "customer", 1, "step 1", 1, 1, 1, 1, 1.0, 1.0, 0.0, 0.0, 0.0),
        (D2, "customers", "customer", 2, "step 2", 1, 1, 1, 1, 1.0, 1.0, 10.0, 10.0, 10.0),
        (D2, "customers", "customer", 3, "step 3", 1, 1, 1, 1, 1.0, 1.0, 20.0, 20.0, 20.0),
    ]
    assertDataFrameEqual(got, spark.createDataFrame(expected, got.schema))


def test_order_mode_counts_in_the_table(results):
    for name, reach in (("sequential", [4, 3, 2]), ("strict", [4, 1, 1]), ("any", [4, 3, 3])):
        rows = _table(results, name, "journey")
        assert [rows[k]["reached"] for k in (1, 2, 3)] == reach, name
        assert [rows[k]["previous_step_reached"] for k in (1, 2, 3)] == [4] + reach[:2], name


def test_breakdowns_add_up_and_funnel_never_grows(results):
    rows = results.collect()
    for r in rows:
        assert r["entered"] <= r["population"] and r["reached"] <= r["previous_step_reached"] <= r["entered"]
        # times exist exactly where some unit reached the step
        times = (r["mean_seconds_from_entry"], r["median_seconds_from_entry"], r["p90_seconds_from_entry"])
        assert all(t is not None for t in times) if r["reached"] else times == (None, None, None)
    assert any(r["reached"] == 0 for r in rows) and any(r["entered"] == 0 for r in rows)
    alls = {(r["journey_start_date"], r["funnel_name"], r["unit"], r["step"]): r for r in rows
            if r["breakdown"] == "all"}
    for bd in ("segment", "channel", "device", "region"):
        for key, a in alls.items():
            parts = [r for r in rows if r["breakdown"] == bd and
                     (r["journey_start_date"], r["funnel_name"], r["unit"], r["step"]) == key]
            for col in ("population", "entered", "reached"):
                assert sum(p[col] for p in parts) == a[col]


def test_no_funnels_gives_an_empty_table(spark):
    out = funnel_results(journeys_frame(spark, {"k3": SCENARIOS["k3"]}), events_frame(spark, {"k3": SCENARIOS["k3"]}),
                         [])
    assert out.count() == 0 and _types(out.schema) == _types(table_contract("funnel_results").spark_schema())


@pytest.mark.parametrize("bad, message", [
    ({"order": "random"}, "'strict', 'sequential' or 'any'"),
    ({"steps": []}, "at least 1 item"),
    ({"steps": [{"page_path": "/products/(["}]}, "not a valid regular expression"),
    ({"steps": [{"name": "nothing"}]}, "needs at least one of"),
    ({"window_days": 1}, "exactly one of window_days or window_hours"),
    ({"window_hours": None}, "exactly one of window_days or window_hours"),
    ({"exclusions": [{"event_type": "x", "between": [2, 2]}]}, "1 <= i < j <= 2"),
    ({"hold_constant": ["colour"]}, "unknown property 'colour'"),
    ({"steps": [{"event_type": "a", "name": "s"}, {"event_type": "b", "name": "s"}]}, "step names must be distinct"),
])
def test_config_errors_are_clear(bad, message):
    base = {"name": "f", "steps": [{"event_type": "a"}, {"event_type": "b"}], "window_hours": 1}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace("[", r"\[")):
        NamedFunnel.model_validate({**base, **bad})


def test_funnel_names_must_be_distinct():
    with pytest.raises(ValueError, match="repeated: a"):
        check_unique_names([funnel("a", ["x"]), funnel("a", ["y"])])


def test_example_config_funnels_validate():
    from pathlib import Path

    import yaml
    doc = yaml.safe_load((Path(__file__).resolve().parent.parent / "docs" / "analytics.md").read_text()
                         .split("```yaml\n", 1)[1].split("```", 1)[0])
    for f in doc["analytics"]["named_funnels"]:
        NamedFunnel.model_validate(f)


def test_schema_is_the_contract(results):
    # names, order and types; nullability is the contract's business when the table is read back
    assert _types(results.schema) == _types(table_contract("funnel_results").spark_schema())


def _types(schema):
    return [(f.name, f.dataType) for f in schema]


def _validate(df, tmp_path):
    return check_output(df, "funnel_results", tmp_path)


def test_output_suite_catches_a_growing_funnel(results, tmp_path):
    small = results.where("breakdown = 'all'")
    broken = small.withColumn("reached", F.when(F.col("step") == 3, F.col("entered") + 1).otherwise(F.col("reached")))
    assert not _validate(broken, tmp_path / "bad").success
