"""Fuzz: hundreds of malformed rows across all sources -> no crash, every one quarantined
with the expected reason, nothing lost, and the books balance."""
import gzip
from datetime import date

import pytest
from pyspark.sql import functions as F

from fuzz_rows import write_fuzzed_sources
from jobs import steps
from jobs.normalize.pii import PiiKey
from jobs.pipeline import normalize
from jobs.storage import read_table

ARRIVAL = "2026-02-02"


@pytest.fixture(scope="module")
def fuzz_run(spark, base_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    raw = root / "raw"
    expected = write_fuzzed_sources(raw, ARRIVAL, rows_per_source=400, bad_share=0.4, seed=20260202)
    folder = raw / "clickstream" / f"arrival_date={ARRIVAL}"
    good = gzip.compress(b'{"event_id":"t1"}\n' * 50, mtime=0)
    (folder / "part-1-truncated.ndjson.gz").write_bytes(good[: len(good) // 2])
    (folder / "part-2-empty.ndjson").write_bytes(b"")
    config = base_config.with_overrides(
        warehouse=str(root / "warehouse"),
        sources={name: {"path": str(raw / name)} for name in ("clickstream", "crm_customers", "crm_activities", "calls")},
        quality={"enforce": False},  # row-level fuzz: the feed-level gate is tested elsewhere
    )
    day = date.fromisoformat(ARRIVAL)
    # normalize (raw suites included) and build must survive the rows around the bad ones; output
    # suites on generated data are tests/test_pipeline.py's
    result = normalize(spark, config, day, PiiKey(b"fuzz-key-0123456789"))
    steps.build_step(spark, config, day)
    steps.publish_step(spark, config, day)
    return config, result, expected


def test_at_least_500_malformed_rows_each_quarantined_with_its_reason(spark, fuzz_run):
    config, result, expected = fuzz_run
    assert len(expected) >= 500
    q = read_table(spark, config.warehouse, "quarantine")
    got = {(r.source, r.source_file, r.source_line): r.reason_code
           for r in q.where(F.col("source_line").isNotNull()).collect()}
    assert got == expected
    unreadable = q.where("reason_code = 'UNREADABLE_FILE'").collect()
    assert [(r.source_file, r.source_line) for r in unreadable] == [
        (f"arrival_date={ARRIVAL}/part-1-truncated.ndjson.gz", None)]
    assert all(r.reason_detail for r in q.collect())


def test_books_balance_and_summary_counts_reasons(spark, fuzz_run):
    config, result, expected = fuzz_run
    for s in result.sources:
        assert s.is_balanced, s
        want = {}
        for (source, _, _), reason in expected.items():
            if source == s.source:
                want[reason] = want.get(reason, 0) + 1
        if s.source == "clickstream":
            want["UNREADABLE_FILE"] = 1
        assert s.quarantine_by_reason == want
    runs = read_table(spark, config.warehouse, "pipeline_runs").collect()
    assert {r.source for r in runs if r.step == "normalize"} == {"clickstream", "crm_customers", "crm_activities",
                                                                  "calls"}
    assert [r.source for r in runs if r.step == "build"] == ["all"]
    assert all(r.is_balanced and r.status == "succeeded" for r in runs)


def test_good_rows_around_bad_ones_are_kept(spark, fuzz_run):
    config, result, expected = fuzz_run
    events = read_table(spark, config.warehouse, "events")
    by_source = {r.source: r["count"] for r in events.groupBy("source").count().collect()}
    bad = {}
    for (source, _, _), _reason in expected.items():
        bad[source] = bad.get(source, 0) + 1
    assert by_source["clickstream"] == 400 - bad["clickstream"]
    assert by_source["calls"] == 400 - bad["calls"]
    assert by_source["crm"] == 400 - bad["crm_activities"]
    customers = read_table(spark, config.warehouse, "crm_customers").count()
    assert customers == 400 - bad["crm_customers"]
