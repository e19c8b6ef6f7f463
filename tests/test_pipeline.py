"""End to end on generated data: every arrival date of a small synthetic dataset through
`journeys run` (all four steps in one process), checked against the generator's ground
truth. Reruns are checked through Airflow in tests/test_airflow_e2e.py."""
import csv
import re
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.contracts import table_contract
from jobs.generator import generate
from jobs.normalize.pii import PiiKey
from jobs.pipeline import run_date
from jobs.storage import read_table

SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
KEY = PiiKey(b"pipeline-test-key-0123456789")


def arrival_dates(raw: Path) -> list[date]:
    return sorted({date.fromisoformat(p.name.split("=")[1]) for s in SOURCES for p in (raw / s).glob("arrival_date=*")})


@pytest.fixture(scope="module")
def generated(production_sql, spark, base_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    raw = root / "raw"
    summary = generate(raw, customers=300, days=3, seed=11)
    config = base_config.with_overrides(
        warehouse=str(root / "warehouse"),
        sources={name: {"path": str(raw / name)} for name in SOURCES})
    results = [run_date(spark, config, day, KEY) for day in arrival_dates(raw)]
    return config, raw, summary, results


def test_every_malformed_row_is_quarantined_with_the_true_reason(spark, generated):
    config, raw, summary, results = generated
    with open(raw / "ground_truth" / "malformed.csv") as fh:
        truth = {(r["source"], r["file"].split("/", 1)[1], int(r["line_number"])): r["expected_reason"]
                 for r in csv.DictReader(fh)}
    q = read_table(spark, config.warehouse, "quarantine").collect()
    got = {(r.source, r.source_file, r.source_line): r.reason_code for r in q}
    assert got == truth
    assert len(truth) > 20


def test_books_balance_and_duplicates_match_truth(spark, generated):
    config, raw, summary, results = generated
    everything = read_table(spark, config.warehouse, "pipeline_runs").collect()
    assert all(r.is_balanced and r.status == "succeeded" for r in everything)
    runs = [r for r in everything if r.step == "normalize"]
    assert len(runs) == len(results) * len(SOURCES)
    assert len([r for r in everything if r.step == "build"]) == len(results)
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
                  "journeys"):
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
                  "journey_events", "journeys"):
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
