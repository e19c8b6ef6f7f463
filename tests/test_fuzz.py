"""Fuzz: more than 2,000 hostile rows across all four sources (wrong encodings, BOMs, NUL bytes,
lines of several MB, wrong delimiters and quoting, years 0000 and 9999, negative durations,
numbers as text, JSON where a scalar belongs, an empty file, a truncated gzip) -> no crash,
every malformed row quarantined with its expected reason, every good and hostile-but-valid row
kept, the books balance, and the run's summary counts the quarantine by reason."""
from collections import Counter
from datetime import date

import pytest
from pyspark.sql import functions as F

from fuzz_rows import SOURCES, bad_kinds, kept_kinds, write_fuzzed_sources
from jobs import cli, steps, summary
from jobs.normalize.classify import RAW_RECORD_LIMIT
from jobs.normalize.pii import PiiKey
from jobs.pipeline import normalize
from jobs.storage import read_table

ARRIVAL = "2026-02-02"


@pytest.fixture(scope="module")
def fuzz_run(spark, base_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    raw = root / "raw"
    plan = write_fuzzed_sources(raw, ARRIVAL, rows_per_source=1000, bad_share=0.52, seed=20260202)
    config = base_config.with_overrides(
        warehouse=str(root / "warehouse"),
        sources={name: {"path": str(raw / name)} for name in SOURCES},
        quality={"enforce": False},  # row-level fuzz: the feed-level gate is tested elsewhere
    )
    day = date.fromisoformat(ARRIVAL)
    # normalize (raw suites included) and build must survive the rows around the bad ones; output
    # suites on generated data are tests/test_pipeline.py's
    result = normalize(spark, config, day, PiiKey(b"fuzz-key-0123456789"))
    steps.build_step(spark, config, day)
    steps.publish_step(spark, config, day)
    return config, result, plan


def test_every_kind_of_hostile_input_is_there_several_times(fuzz_run):
    _, _, plan = fuzz_run
    assert plan.malformed() >= 2000
    counts = plan.kind_counts()
    for source in SOURCES:
        for kind in bad_kinds(source):
            assert counts[(source, kind)] >= 5, (source, kind)
        for kind in kept_kinds(source):
            assert plan.kept_kinds[(source, kind)] >= 5, (source, kind)
        for kind in ("line_of_several_mb", "long_quoted_field", "utf16_file"):
            assert counts[(source, kind)] >= 1, (source, kind)
        assert len(plan.unreadable[source]) == 1 and any(f.endswith("-empty.ndjson") or f.endswith("-empty.csv")
                                                          for f in plan.files[source])
        if source != "clickstream":
            assert counts[(source, "wrong_delimiter_file")] >= 5


def test_over_2000_malformed_rows_each_quarantined_with_its_reason(spark, fuzz_run):
    config, result, plan = fuzz_run
    q = read_table(spark, config.warehouse, "quarantine")
    rows = q.select("source", "source_file", "source_line", "reason_code", "reason_detail",
                    F.length("raw_record").alias("raw_chars"), "raw_bytes").collect()
    got = {(r.source, r.source_file, r.source_line): r.reason_code for r in rows if r.source_line is not None}
    assert len(got) == sum(1 for r in rows if r.source_line is not None)  # one row per source line
    missing = {k: v for k, v in plan.expected.items() if k not in got}
    wrong = {k: (plan.kinds[k], v, got[k]) for k, v in plan.expected.items() if k in got and got[k] != v}
    extra = {k: v for k, v in got.items() if k not in plan.expected}
    assert not missing and not wrong and not extra, (list(missing.items())[:5], list(wrong.items())[:5],
                                                     list(extra.items())[:5])
    unreadable = sorted((r.source, r.source_file) for r in rows if r.reason_code == "UNREADABLE_FILE")
    assert all(r.source_line is None for r in rows if r.reason_code == "UNREADABLE_FILE")
    assert unreadable == sorted((s, f) for s, files in plan.unreadable.items() for f in files)
    assert all(r.reason_detail for r in rows)
    # raw text kept for every line-level row, cut to 64 KiB; the byte count is the line's own
    assert all(r.raw_chars and r.raw_chars <= RAW_RECORD_LIMIT for r in rows if r.source_line is not None)
    huge = [r for r in rows if plan.kinds.get((r.source, r.source_file, r.source_line)) == "line_of_several_mb"]
    assert len(huge) == 4 and all(r.raw_bytes >= 3_000_000 and r.raw_chars == RAW_RECORD_LIMIT for r in huge)


def test_books_balance_and_summary_counts_reasons(spark, fuzz_run, capsys):
    config, result, plan = fuzz_run
    q = read_table(spark, config.warehouse, "quarantine")
    table = {(r.source, r.reason_code): r["count"] for r in q.groupBy("source", "reason_code").count().collect()}
    for s in result.sources:
        want = plan.reason_counts(s.source)
        assert s.is_balanced, s
        assert s.quarantine_by_reason == want == {c: n for (src, c), n in table.items() if src == s.source}
        assert s.rows_quarantined == sum(want.values())
        assert s.rows_out == len(plan.kept[s.source]) and s.rows_duplicate == 0
        assert getattr(s, "rows_bot", 0) == 0  # 40 devices: no bots
        assert s.rows_in == s.rows_out + s.rows_quarantined + s.rows_duplicate == len(plan.kept[s.source]) + (
            sum(want.values()))
        assert s.files_read == len(plan.files[s.source])
    runs = read_table(spark, config.warehouse, "pipeline_runs").collect()
    normalize_runs = {r.source: r for r in runs if r.step == "normalize"}
    assert set(normalize_runs) == set(SOURCES)
    assert [r.source for r in runs if r.step == "build"] == ["all"]
    assert all(r.is_balanced and r.status == "succeeded" for r in runs)
    for s in result.sources:
        assert dict(normalize_runs[s.source].quarantine_by_reason) == s.quarantine_by_reason

    by_reason = Counter()
    for (_, code), n in table.items():
        by_reason[code] += n
    line = "quarantined by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items()))
    # what `journeys run` prints, and `python -m jobs.summary` over the published tables
    assert result.totals.quarantine_by_reason == dict(by_reason)
    cli._print_run(result, quiet=False)
    assert line in capsys.readouterr().out
    s = summary.summary(config)
    assert s["balanced"] and s["quarantine_by_reason"] == dict(sorted(by_reason.items()))
    assert {src: t["rows_quarantined"] for src, t in s["sources"].items()} == {
        r.source: r.rows_quarantined for r in result.sources}
    assert line in summary.render(s)
    assert s["tables"]["quarantine"] == sum(by_reason.values())


def test_good_rows_around_bad_ones_are_kept(spark, fuzz_run):
    config, result, plan = fuzz_run
    events = read_table(spark, config.warehouse, "events")
    got = {}
    for r in events.select("source", "source_event_id").collect():
        got.setdefault(r.source, set()).add(r.source_event_id)
    assert got["clickstream"] == plan.kept["clickstream"]
    assert got["calls"] == plan.kept["calls"]
    assert got["crm"] == plan.kept["crm_activities"]
    customers = {r.customer_id for r in read_table(spark, config.warehouse, "crm_customers").collect()}
    assert customers == plan.kept["crm_customers"]
    # numbers written as text in CSV are numbers: a quoted "60" and a padded one are the same wait
    calls = events.where("source = 'calls'").select(F.col("attributes")["wait_seconds"].alias("w")).distinct()
    assert {r.w for r in calls.collect()} == {"60"}
