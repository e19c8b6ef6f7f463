"""End to end on generated data: every arrival date of a small synthetic dataset through
`journeys run` (all four steps in one process), checked against the generator's ground
truth. Reruns are checked through Airflow in tests/test_airflow_e2e.py."""
import csv
import json
import re
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.analytics.analyse import TABLES as ANALYTICS_TABLES
from jobs.analytics.friction import friction_occurrences, friction_points
from jobs.analytics.touchpoints import touchpoints
from jobs.contracts import table_contract
from jobs.storage import read_table
from conftest import SOURCES


@pytest.fixture(scope="module")
def generated(production_sql, pipeline_warehouse):
    """tests/conftest.py pipeline_warehouse; this module's own checks run with production settings too."""
    return pipeline_warehouse


def test_every_malformed_row_is_quarantined_with_the_true_reason(spark, generated):
    config, raw, summary, results = generated
    with open(raw / "ground_truth" / "malformed.csv") as fh:
        truth = {(r["source"], r["file"].split("/", 1)[1], int(r["line_number"])): r["expected_reason"]
                 for r in csv.DictReader(fh)}
    q = read_table(spark, config.warehouse, "quarantine").collect()
    got = {(r.source, r.source_file, r.source_line): r.reason_code for r in q}
    assert got == truth
    assert len(truth) > 20


def test_no_step_leaves_a_frame_or_a_cached_plan_behind(generated):
    """The raw gate and the output suites run Great Expectations, which keeps the frames it
    checked in reference cycles: the steps free them before they return. And every frame a step
    caches is dropped by the step (the bot guard's counts once stayed cached, three a night)."""
    config, raw, summary, results = generated
    left = json.loads((Path(config.warehouse).parent / "left_behind.json").read_text())
    assert len(left) == len(results) and all(v == [0, 0] for v in left.values()), left


def test_books_balance_and_duplicates_match_truth(spark, generated):
    config, raw, summary, results = generated
    everything = read_table(spark, config.warehouse, "pipeline_runs").collect()
    assert all(r.is_balanced and r.status == "succeeded" for r in everything)
    runs = [r for r in everything if r.step == "normalize"]
    assert len(runs) == len(results) * len(SOURCES)
    assert len([r for r in everything if r.step == "build"]) == 1
    dup = {s: 0 for s in SOURCES}
    rows_in = {s: 0 for s in SOURCES}
    for r in runs:
        dup[r.source] += r.rows_duplicate
        rows_in[r.source] += r.rows_in
    for source in SOURCES:
        assert rows_in[source] == summary["rows"][source], source
        assert dup[source] == summary["duplicates"][source], source


def test_late_events_land_on_their_event_date(spark, generated):
    config, raw, summary, results = generated
    events = read_table(spark, config.warehouse, "events")
    late = events.where("event_date < arrival_date")
    assert late.count() == sum(r.totals.rows_late for r in results) > 0
    assert events.where("event_date > date_add(arrival_date, 1)").count() == 0


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+\d{8,15}|\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b")


def test_no_raw_email_or_phone_in_any_table_but_quarantine(spark, generated):
    config, raw, summary, results = generated
    with open(raw / "ground_truth" / "persons.csv") as fh:
        persons = list(csv.DictReader(fh))
    known = {p["email"].strip().lower() for p in persons if p["email"]}
    known |= {re.sub(r"\D", "", p["phone"])[-10:] for p in persons if p["phone"]}
    for table in ("events", "crm_customers", "pipeline_runs", "identity_map", "customers", "journey_events",
                  "journeys", *ANALYTICS_TABLES):
        df = read_table(spark, config.warehouse, table)
        text = [r.j for r in df.select(F.to_json(F.struct(*df.columns)).alias("j")).collect()]
        blob = "\n".join(text)
        assert not EMAIL.search(blob), f"{table}: {EMAIL.search(blob).group(0)}"
        assert not PHONE.search(blob), f"{table}: {PHONE.search(blob).group(0)}"
        lowered = blob.lower()
        leaked = [k for k in known if k and k in lowered and not re.fullmatch(r"\d+", k)]
        assert not leaked, f"{table} holds raw PII: {leaked[:3]}"


def test_tables_match_their_contracts(spark, generated):
    config, raw, summary, results = generated
    for table in ("events", "quarantine", "crm_customers", "pipeline_runs", "identity_map", "customers",
                  "journey_events", "journeys", *ANALYTICS_TABLES):
        path = f"{config.warehouse}/{table}"
        written = spark.read.parquet(path).schema
        contract = table_contract(table).spark_schema()
        assert {f.name: f.dataType for f in written} == {f.name: f.dataType for f in contract}, table
        df = read_table(spark, config.warehouse, table)
        for col in table_contract(table).columns:
            if col.required:
                assert df.where(F.col(col.name).isNull()).count() == 0, f"{table}.{col.name}"
    keys = read_table(spark, config.warehouse, "events").groupBy("event_id").count().where("count > 1").count()
    assert keys == 0


# ---- friction analytics on what the nightly runs published (issue [C])
MIN_OCCURRENCES = 3  # injected frictions seen fewer times than this are not asserted on
# ground truth signal names -> ours
SIGNAL = {"long_wait": "long_queue_wait", "transfers": "multiple_transfers"}
# what an injected friction legitimately shows up as besides its own signal: the error that
# ends a session is also a dead end, a failed form submission is also an error event
CONSEQUENCES = {"error_event": {"dead_end"}, "loop": {"error_event", "dead_end"}}


def matches(truth: dict, touchpoint: str) -> bool:
    """Truth names a page path (any digital channel), a queue or the CRM complaint touchpoint."""
    where = truth["touchpoint"]
    if where.startswith("/"):
        return touchpoint.endswith(f":{where}")
    if truth["source"] == "calls":
        return touchpoint.startswith("call:")
    return touchpoint.startswith(where)


@pytest.fixture(scope="module")
def friction(spark, generated):
    """What the nightly runs published, with the generator's injected friction."""
    config, raw, summary, results = generated
    journeys = read_table(spark, config.warehouse, "journeys").cache()
    events = read_table(spark, config.warehouse, "journey_events").cache()
    occ = read_table(spark, config.warehouse, "friction_occurrences").cache()
    truth = json.loads((raw / "ground_truth" / "friction.json").read_text())["frictions"]
    yield {"journeys": journeys, "events": events, "occ": occ, "config": config, "truth": truth,
           "found": occ.groupBy("signal", "touchpoint", "stage").count().collect()}
    for df in (occ, events, journeys):
        df.unpersist()


def test_every_injected_friction_is_detected_by_its_signal_on_its_touchpoint(friction):
    asserted = []
    for name, truth in friction["truth"].items():
        if truth["occurrences"] < MIN_OCCURRENCES:
            continue
        signal = SIGNAL.get(truth["signal"], truth["signal"])
        hits = [r for r in friction["found"] if r.signal == signal and matches(truth, r.touchpoint)]
        detected = sum(r["count"] for r in hits)
        print(f"{name}: injected {truth['occurrences']}, detected {detected} as {signal}")
        assert detected == truth["occurrences"], name
        if truth["source"] == "clickstream":
            assert {r.stage for r in hits} == {truth["stage"]}, name
        asserted.append(name)
    # the web frictions are common enough at this size; calls and complaints are rarer
    assert {"payment_failed", "rage_click_coupon", "search_error_page"} <= set(asserted)


def test_rage_clicks_are_on_the_injected_element(friction):
    details = [r.detail for r in friction["occ"].where("signal = 'rage_click'").collect()]
    assert details and all(d.endswith(" s") and " on #apply-coupon in " in d for d in details)


def test_top_friction_points_are_injected_ones(friction):
    # the whole period as one cohort: a few hundred journeys a day are too few to rank on
    pooled = friction["journeys"].withColumn("journey_start_date", F.lit(date(2026, 1, 5)))
    top = (friction_points(pooled, friction["occ"]).where("breakdown = 'all' and rank <= 3")
           .orderBy("rank").collect())
    print([(r.signal, r.touchpoint, round(r.lost_conversions, 2), r.is_significant) for r in top])
    injected = list(friction["truth"].values())

    def explained(point) -> bool:
        return any(matches(t, point.touchpoint)
                   and point.signal in {SIGNAL.get(t["signal"], t["signal"])} | CONSEQUENCES.get(t["signal"], set())
                   for t in injected)
    assert len(top) == 3 and all(explained(p) for p in top), top
    assert top[0].lost_conversions > 1 and top[0].is_significant


def test_a_start_date_alone_gives_the_same_occurrences_as_all_dates(friction):
    journeys, events, occ = friction["journeys"], friction["events"], friction["occ"]
    config = friction["config"]
    day = journeys.groupBy("journey_start_date").count().orderBy(F.desc("count")).first()[0]
    alone = journeys.where(F.col("journey_start_date") == day)
    theirs = events.join(alone.select("journey_id"), "journey_id", "left_semi")
    recomputed = friction_occurrences(alone, theirs, config.analytics.friction, config.journeys.error_event_types)
    expected = occ.where(F.col("journey_start_date") == day)
    assert recomputed.count() > 0
    assert sorted(recomputed.collect()) == sorted(expected.collect())


def test_touchpoints_on_generated_data(friction):
    config = friction["config"]
    tp = touchpoints(friction["journeys"], friction["events"], friction["occ"], config.analytics.friction).cache()
    key = ["journey_start_date", "touchpoint", "stage", "channel"]
    assert tp.groupBy(*key).count().where("count > 1").count() == 0
    total = friction["events"].count()
    assert tp.agg(F.sum("events")).first()[0] == total
    assert tp.agg(F.sum("friction_occurrences")).first()[0] == friction["occ"].count()
    payment = tp.where("touchpoint = 'web:/checkout/payment'").agg(
        F.sum("friction_events").alias("f"), F.sum("events").alias("e")).first()
    assert 0 < payment.f < payment.e
    assert tp.where("is_first_touch").count() > 0 and tp.where("is_end_touch").count() > 0
    assert tp.where("is_high_frequency").count() > 0
    scored = tp.where("nps_responses > 0 or ces_responses > 0 or csat_responses > 0")
    assert scored.where("not is_high_perception").count() == 0
    assert tp.where("nps < -100 or nps > 100 or ces < 1 or ces > 7 or csat_rate < 0 or csat_rate > 1").count() == 0
    tp.unpersist()
