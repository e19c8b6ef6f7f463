"""Run an output table's Great Expectations suite on a test frame the way the validate step does.

The unit tests show each suite catches a broken frame; that every suite passes on real output
is shown by every pipeline run in tests/test_pipeline.py and tests/test_airflow_e2e.py, whose
validate step fails on any critical expectation."""
from __future__ import annotations

from datetime import datetime, timezone

from jobs.quality import QualityThresholds
from jobs.steps import validate_output

# outputs tolerate no bad row; the test frames' timestamps are all inside this range
THRESHOLDS = QualityThresholds(max_bad_fraction=0.0, tolerated_bad_rows=0,
                               min_timestamp=datetime(2000, 1, 1, tzinfo=timezone.utc),
                               max_timestamp=datetime(2100, 1, 1, tzinfo=timezone.utc))


def check_output(df, table: str, out_dir):
    """The ValidationReport of `table`'s suite on df (results written below out_dir)."""
    return validate_output(df, table, THRESHOLDS, f"test-{table}", str(out_dir))
