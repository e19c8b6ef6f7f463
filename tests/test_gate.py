"""A broken feed stops the run before anything is published, with the failing checks named."""
from datetime import date

import pytest

from fuzz_rows import CALL, CALL_COLS, csv_line
from jobs.normalize.pii import PiiKey
from jobs.pipeline import run_date
from jobs.quality import ValidationFailed
from jobs.storage import read_table


def test_critical_failure_stops_the_run_and_publishes_nothing(spark, base_config, tmp_path):
    folder = tmp_path / "raw" / "calls" / "arrival_date=2026-02-02"
    folder.mkdir(parents=True)
    rows = [[f"K{i}" if i % 3 else "", *CALL[1:]] for i in range(60)]  # a third without call_id
    (folder / "calls.csv").write_text("\n".join([",".join(CALL_COLS)] + [csv_line(r) for r in rows]) + "\n")
    config = base_config.with_overrides(
        warehouse=str(tmp_path / "wh"),
        sources={n: {"path": str(tmp_path / "raw" / n)} for n in ("clickstream", "crm_customers", "crm_activities",
                                                                   "calls")})
    with pytest.raises(ValidationFailed) as failure:
        run_date(spark, config, date(2026, 2, 2), PiiKey(b"gate-key-0123456789"))
    assert "call_logs" in str(failure.value) and "not_be_null(call_id)" in str(failure.value)
    for table in ("events", "quarantine", "crm_customers"):
        assert read_table(spark, config.warehouse, table) is None, table
    runs = read_table(spark, config.warehouse, "pipeline_runs").collect()
    assert {r.status for r in runs} == {"failed"}
    assert (tmp_path / "wh" / "_validation" / "data_docs" / "index.html").exists()


def test_unbalanced_books_fail_the_run(spark, base_config, tmp_path, monkeypatch):
    from fuzz_rows import write_fuzzed_sources
    from jobs.normalize import classify
    from jobs.pipeline import ReconciliationError

    write_fuzzed_sources(tmp_path / "raw", "2026-02-02", rows_per_source=20, bad_share=0.0, seed=1)
    config = base_config.with_overrides(
        warehouse=str(tmp_path / "wh"),
        sources={n: {"path": str(tmp_path / "raw" / n)} for n in ("clickstream", "crm_customers", "crm_activities",
                                                                   "calls")})
    real = classify.classify_events

    def losing_a_row(*args, **kwargs):  # a bug that silently drops one row
        out = real(*args, **kwargs)
        return out.where(F.col("source_line") != 3)

    from pyspark.sql import functions as F
    monkeypatch.setattr(classify, "classify_events", losing_a_row)
    with pytest.raises(ReconciliationError,
                       match=r"clickstream: rows_in \d+ != out \d+ \+ quarantined \d+ \+ duplicate \d+ \+ bot \d+"):
        run_date(spark, config, date(2026, 2, 2), PiiKey(b"gate-key-0123456789"))
    assert read_table(spark, config.warehouse, "events") is None
