"""Raw-source validation with Great Expectations (jobs/quality, SPEC 3.2)."""
from __future__ import annotations

import datetime as dt
import json
import pickle

import pytest

from jobs.quality import (
    QualityThresholds,
    SuiteConfigError,
    ValidationFailed,
    build_suite,
    load_contract,
    load_semantic,
    raise_for_failures,
    render_data_docs,
    validate,
)
from jobs.quality.validation import _summarise

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
N = 200  # rows per test frame

CONTRACT = {
    "name": "test_calls",
    "layer": "raw",
    "columns": [
        {"name": "call_id", "type": "string", "required": True},
        {"name": "caller_number", "type": "string", "pii": "phone"},
        {"name": "direction", "type": "string", "required": True, "allowed_values": ["inbound", "outbound"]},
        {"name": "queue", "type": "string", "pattern": "^[a-z_]+$"},
        {"name": "started_at", "type": "timestamp", "required": True},
        {"name": "ended_at", "type": "timestamp", "required": True},
        {"name": "talk_seconds", "type": "integer", "min": 0, "max": 7200},
        {"name": "device", "type": "string", "allowed_values": ["desktop", "mobile"], "severity": "warning"},
        {"name": "props", "type": "json"},
    ],
}
SEMANTIC = {
    "source": "test_calls",
    "expectations": [
        {
            "type": "expect_column_pair_values_a_to_be_greater_than_b",
            "kwargs": {"column_A": "ended_at", "column_B": "started_at", "or_equal": True,
                       "ignore_row_if": "either_value_is_missing"},
            "severity": "critical",
            "description": "A call cannot end before it started.",
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "talk_seconds", "value_set": [0]},
            "row_condition": {"column": "direction", "op": "==", "value": "outbound"},
            "severity": "warning",
        },
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}, "severity": "warning"},
    ],
}
THRESHOLDS = QualityThresholds(
    max_bad_fraction=0.05,
    min_timestamp=dt.datetime(2000, 1, 1, tzinfo=UTC),
    max_timestamp=dt.datetime(2024, 5, 3, tzinfo=UTC),
)


def _frame(spark, n=N, *, null_ids=0, bad_direction=0, bad_device=0, backwards=0):
    """A typed-staging frame built in the JVM (no Python workers): row i starts at T0 + i min;
    the first rows of each kind are the broken ones."""
    from pyspark.sql import functions as F

    i = F.col("id")
    start = F.lit(int(T0.timestamp())) + i * 60
    return spark.range(n).select(
        F.when(i < null_ids, F.lit(None)).otherwise(F.concat(F.lit("c"), i.cast("string"))).alias("call_id"),
        F.concat(F.lit("+1555000"), i.cast("string")).alias("caller_number"),
        F.when(i < bad_direction, "sideways").when(i % 2 == 1, "inbound").otherwise("outbound").alias("direction"),
        F.lit("billing").alias("queue"),
        F.timestamp_seconds(start).alias("started_at"),
        F.timestamp_seconds(F.when(i < backwards, start - 60).otherwise(start + 300)).alias("ended_at"),
        F.when(i % 2 == 1, 240).otherwise(0).cast("int").alias("talk_seconds"),
        F.when(i < bad_device, "toaster").otherwise("desktop").alias("device"),
        F.lit('{"k": 1}').alias("props"),
        F.lit(True).alias("_is_valid"),  # a helper column validation ignores
    )


def _run(spark, tmp_path, run_name="2024-05-01", **kw):
    return validate(_frame(spark, **kw), CONTRACT, SEMANTIC, THRESHOLDS, run_name, tmp_path / "quality")


# --------------------------------------------------------------------------- suite generation


def test_suite_from_contract_skips_pii_and_applies_mostly():
    suite = build_suite(CONTRACT, SEMANTIC, THRESHOLDS)
    assert suite.name == "test_calls"
    got = [(e.expectation_type, getattr(e, "column", None)) for e in suite.expectations]
    assert got[:12] == [
        ("expect_table_columns_to_match_set", None),
        ("expect_column_values_to_not_be_null", "call_id"),
        ("expect_column_values_to_not_be_null", "direction"),
        ("expect_column_values_to_be_in_set", "direction"),
        ("expect_column_values_to_match_regex", "queue"),
        ("expect_column_values_to_not_be_null", "started_at"),
        ("expect_column_values_to_be_between", "started_at"),
        ("expect_column_values_to_not_be_null", "ended_at"),
        ("expect_column_values_to_be_between", "ended_at"),
        ("expect_column_values_to_be_between", "talk_seconds"),
        ("expect_column_values_to_be_in_set", "device"),
        ("expect_column_pair_values_a_to_be_greater_than_b", None),
    ]
    assert len(suite.expectations) == 14
    dumped = json.dumps(suite.to_json_dict(), default=str)
    assert "caller_number" not in dumped  # PII never reaches GX
    columns_check = suite.expectations[0]
    assert "caller_number" not in columns_check.column_set and "props" in columns_check.column_set

    by_col = {(e.expectation_type, getattr(e, "column", None)): e for e in suite.expectations}
    ts = by_col[("expect_column_values_to_be_between", "started_at")]
    assert ts.min_value == THRESHOLDS.min_timestamp and ts.max_value == THRESHOLDS.max_timestamp
    talk = by_col[("expect_column_values_to_be_between", "talk_seconds")]
    assert (talk.min_value, talk.max_value) == (0, 7200)
    for e in suite.expectations:
        if hasattr(e, "mostly"):
            assert e.mostly == pytest.approx(0.95 if e.severity == "critical" else 1.0), e
    assert by_col[("expect_column_values_to_be_in_set", "device")].severity == "warning"
    assert by_col[("expect_column_values_to_be_in_set", "direction")].severity == "critical"
    assert suite.expectations[-1].expectation_type == "expect_table_row_count_to_be_between"
    assert suite.expectations[-1].severity == "warning"
    assert suite.expectations[11].meta["origin"] == "semantic"


@pytest.mark.parametrize("source", ["clickstream_events", "clickstream_export", "crm_customers", "crm_activities",
                                    "call_logs"])
def test_every_raw_source_has_a_valid_semantic_suite(source):
    contract = load_contract(source)
    semantic = load_semantic(source)
    assert semantic and semantic["expectations"]
    suite = build_suite(contract, semantic, THRESHOLDS)
    origins = {e.meta["origin"] for e in suite.expectations}
    assert origins == {"contract", "semantic"}
    assert {str(e.severity.value) for e in suite.expectations} <= {"critical", "warning"}
    dumped = json.dumps(suite.to_json_dict(), default=str)
    for col in contract["columns"]:
        if col.get("pii"):
            assert f'"{col["name"]}"' not in dumped


def test_semantic_suite_errors_are_explicit():
    bad_pii = {"expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "caller_number"}}]}
    with pytest.raises(SuiteConfigError, match="PII"):
        build_suite(CONTRACT, bad_pii, THRESHOLDS)
    bad_col = {"expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nope"}}]}
    with pytest.raises(SuiteConfigError, match="not in contract"):
        build_suite(CONTRACT, bad_col, THRESHOLDS)
    bad_type = {"expectations": [{"type": "expect_magic", "kwargs": {}}]}
    with pytest.raises(SuiteConfigError, match="unknown expectation type"):
        build_suite(CONTRACT, bad_type, THRESHOLDS)
    bad_sev = {"expectations": [{"type": "expect_table_row_count_to_be_between", "severity": "fatal"}]}
    with pytest.raises(SuiteConfigError, match="severity"):
        build_suite(CONTRACT, bad_sev, THRESHOLDS)


def test_thresholds_normalise_and_check():
    t = QualityThresholds(max_timestamp=dt.datetime(2024, 5, 3), min_timestamp=dt.date(2000, 1, 1))
    assert t.max_bad_fraction == 0.05 and t.min_timestamp.tzinfo is not None
    assert t.critical_mostly == 0.95 and t.warning_mostly == 1.0
    with pytest.raises(ValueError):
        QualityThresholds(max_bad_fraction=1.5, min_timestamp=T0, max_timestamp=T0 + dt.timedelta(days=1))
    with pytest.raises(ValueError):
        QualityThresholds(min_timestamp=T0, max_timestamp=T0)
    assert QualityThresholds.for_run_date(dt.date(2024, 5, 1)).max_timestamp == dt.datetime(2024, 5, 3, tzinfo=UTC)


# --------------------------------------------------------------------------- validation on Spark
# One validation per scenario, shared by the tests below (each costs a few Spark jobs).

SCENARIOS = {
    "clean": ("2024-05-01", {}),
    "null_ids_30pct": ("2024-05-02", {"null_ids": int(N * 0.3)}),
    # 2 % bad rows on critical checks (below the 5 % threshold) + a warning-only violation
    "bad_2pct_and_warning": ("2024-05-03", {"null_ids": 4, "bad_direction": 4, "backwards": 4,
                                            "bad_device": N // 2}),
    "ends_before_start": ("2024-05-04", {"backwards": 40}),
}


@pytest.fixture(scope="module")
def quality_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("quality")


@pytest.fixture(scope="module")
def reports(spark, quality_dir):
    return {
        name: validate(_frame(spark, **kw), CONTRACT, SEMANTIC, THRESHOLDS, run_name, quality_dir)
        for name, (run_name, kw) in SCENARIOS.items()
    }


def test_clean_frame_passes_and_result_json_is_kept(reports, quality_dir):
    report = reports["clean"]
    assert report.success, report.critical_failures
    assert report.critical_failures == [] and report.warnings == []
    assert report.evaluated == 14 and report.row_count == N
    assert report.json_path == quality_dir / "2024-05-01" / "test_calls.json"
    text = report.json_path.read_text()
    payload = json.loads(text)
    assert list(payload) == sorted(payload)  # stable key order
    assert payload["success"] is True and payload["suite_name"] == "test_calls"
    severities = [r["expectation_config"]["severity"] for r in payload["gx_result"]["results"]]
    assert severities.count("warning") == 3 and len(severities) == 14
    assert all(e["severity"] in ("critical", "warning") for e in payload["expectations"])
    assert "+1555" not in text and "caller_number" not in text  # the PII column never reached GX
    report.raise_if_failed()  # no exception


def test_thirty_percent_null_ids_fail_critically(reports):
    report = reports["null_ids_30pct"]
    assert not report.success
    assert len(report.critical_failures) == 1
    line = report.critical_failures[0]
    assert "expect_column_values_to_not_be_null(call_id)" in line
    assert "60 of 200" in line and "30.00%" in line and "5.00%" in line
    with pytest.raises(ValidationFailed) as err:
        raise_for_failures(reports.values())
    message = str(err.value)
    assert "call_id" in message
    assert message.count("\n[test_calls] ") == 2  # one line per failing critical expectation
    assert err.value.reports == tuple(reports.values())
    assert str(pickle.loads(pickle.dumps(err.value))) == message


def test_few_bad_rows_pass_and_warnings_are_recorded_without_failing(reports):
    report = reports["bad_2pct_and_warning"]
    assert report.success, report.critical_failures
    assert report.critical_failures == []
    assert len(report.warnings) == 1
    assert "expect_column_values_to_be_in_set(device)" in report.warnings[0]
    assert "100 of 200" in report.warnings[0] and "no unexpected rows allowed" in report.warnings[0]
    by_type = {(e["expectation_type"], tuple(e["columns"])): e for e in report.expectations}
    not_null = by_type[("expect_column_values_to_not_be_null", ("call_id",))]
    assert (not_null["unexpected_count"], not_null["success"]) == (4, True)


def test_semantic_check_fails_when_calls_end_before_they_start(reports):
    report = reports["ends_before_start"]
    assert not report.success
    assert len(report.critical_failures) == 1
    line = report.critical_failures[0]
    assert line.startswith("expect_column_pair_values_a_to_be_greater_than_b(ended_at, started_at)")
    assert "40 of 200" in line and "A call cannot end before it started" in line


def test_missing_column_empty_and_tiny_frames(spark, tmp_path):
    df = _frame(spark).drop("queue")
    report = validate(df, CONTRACT, SEMANTIC, THRESHOLDS, "2024-05-02", tmp_path / "q")
    assert not report.success
    assert any("missing columns: queue" in line for line in report.critical_failures)

    empty = _frame(spark, n=0)
    report = validate(empty, CONTRACT, SEMANTIC, THRESHOLDS, "2024-05-03", tmp_path / "q")
    assert report.success
    assert [w.split(":")[0] for w in report.warnings] == ["expect_table_row_count_to_be_between"]

    # 2 bad ids in 12 rows (17 %) is a handful of rows, not a broken feed: recorded as a warning
    tiny = _frame(spark, n=12, null_ids=2)
    report = validate(tiny, CONTRACT, SEMANTIC, THRESHOLDS, "2024-05-04", tmp_path / "q")
    assert report.success and report.critical_failures == []
    assert any(w.startswith("expect_column_values_to_not_be_null(call_id)") and "tolerated" in w
               for w in report.warnings)
    payload = json.loads(report.json_path.read_text())
    result = next(r for r in payload["gx_result"]["results"]
                  if r["expectation_config"]["type"] == "expect_column_values_to_not_be_null"
                  and r["expectation_config"]["kwargs"]["column"] == "call_id")
    assert result["success"] is False  # GX's own verdict is kept in the result
    assert _summarise(result, tolerated_bad_rows=0)["effective_severity"] == "critical"
    assert _summarise(result, tolerated_bad_rows=2)["effective_severity"] == "warning"


@pytest.mark.parametrize("cached_input", [True, False], ids=["cached input", "uncached input"])
def test_validation_leaves_nothing_cached(spark, tmp_path, cached_input):
    """A backfill validates every source of every night in one session: a cache left behind
    per validation (GX's own, by default) filled the driver's heap within 30 nights."""
    stored = lambda: set(spark.sparkContext._jsc.getPersistentRDDs().keySet())  # noqa: E731
    df = _frame(spark, n=40)
    if cached_input:  # normalize hands over frames read from its cached typed staging
        df = df.persist()
        df.count()
    before = stored()
    assert validate(df, CONTRACT, SEMANTIC, THRESHOLDS, "2024-05-05", tmp_path / "q").success
    # Only new entries count: Spark's context cleaner may drop another test's garbage-collected
    # frame from the same session while this one runs.
    assert stored() - before == set()
    if cached_input:  # the caller's own cache is the caller's to release
        assert df.is_cached
        df.unpersist()


def test_data_docs_index_links_one_page_per_run_and_suite(reports, quality_dir):
    index = render_data_docs(quality_dir)
    assert index == (quality_dir / "data_docs" / "index.html").resolve()
    text = index.read_text()
    assert "test_calls" in text and "FAILED" in text and "passed with warnings" in text
    assert all(run in text for run, _ in SCENARIOS.values())
    assert "<script" not in text  # works offline
    section = quality_dir / "data_docs" / "validations" / "test_calls"
    pages = sorted(section.rglob("*.html"))
    assert len(pages) == len(SCENARIOS)
    for page in pages:
        assert page.relative_to(index.parent).as_posix() in text
        assert "test_calls" in page.read_text()
    assert (quality_dir / "data_docs" / "expectations" / "test_calls.html").exists()

    # a rerun of a run (same run name, later run time) replaces that run's page
    path = reports["clean"].json_path
    payload = json.loads(path.read_text())
    payload["run_time"] = (dt.datetime.fromisoformat(payload["run_time"]) + dt.timedelta(hours=1)).isoformat()
    path.write_text(json.dumps(payload, sort_keys=True))
    render_data_docs(quality_dir)
    assert len(list(section.rglob("*.html"))) == len(SCENARIOS)
    assert len(list((section / "2024-05-01").rglob("*.html"))) == 1


def test_data_docs_read_and_render_only_new_or_changed_results(reports, quality_dir, monkeypatch):
    """A night renders its own results; every earlier night's result (megabytes of JSON each)
    is neither read nor rendered again, its index row comes from data_docs/.rendered.json."""
    from jobs.quality import data_docs

    index = render_data_docs(quality_dir)
    site = index.parent
    pages = {p: p.stat().st_mtime_ns for p in site.rglob("*.html") if p != index}
    read = []
    real = data_docs._load_report
    monkeypatch.setattr(data_docs, "_load_report", lambda path: read.append(path.name) or real(path))

    def rows(text):  # the table, without the "generated at" line
        return text[text.index("<table>"):]

    before = rows(index.read_text())
    assert rows(render_data_docs(quality_dir).read_text()) == before
    assert read == []
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*.html") if p != index} == pages

    # a rerun rewrites one result: that one is read and rendered again, and its suite page
    path = reports["clean"].json_path
    payload = json.loads(path.read_text())
    payload["run_time"] = (dt.datetime.fromisoformat(payload["run_time"]) + dt.timedelta(hours=2)).isoformat()
    payload["warnings"] = ["a warning the rerun added"]
    path.write_text(json.dumps(payload, sort_keys=True))
    text = render_data_docs(quality_dir).read_text()
    assert read == [path.name] and "a warning the rerun added" in text

    # a damaged cache is no cache: everything is read again, and the index is the same
    (site / ".rendered.json").write_text("{not json")
    read.clear()
    assert rows(render_data_docs(quality_dir).read_text()) == rows(text)
    assert len(read) == len(SCENARIOS)


def test_empty_sample_requests_never_reach_spark(reports):
    """gx_samples: after a validation every Spark unexpected-values provider of GX's registry
    answers a request for zero samples with [] itself; other requests still go to GX."""
    from great_expectations.expectations import registry

    from jobs.quality.gx_samples import _skipping_empty_requests, skip_empty_sample_queries

    spark_providers = {name: d["providers"]["SparkDFExecutionEngine"][1]
                       for name, d in registry._registered_metrics.items()
                       if name.endswith(".unexpected_values") and "SparkDFExecutionEngine" in d["providers"]}
    assert spark_providers["column_values.nonnull.unexpected_values"].skips_empty_sample_requests
    assert spark_providers["column_pair_values.a_greater_than_b.unexpected_values"].skips_empty_sample_requests
    assert all(getattr(p, "skips_empty_sample_requests", False) for p in spark_providers.values())
    assert skip_empty_sample_queries() >= len(spark_providers)  # idempotent: nothing wrapped twice
    provider = spark_providers["column_values.nonnull.unexpected_values"]
    assert not getattr(provider.__wrapped__, "skips_empty_sample_requests", False)
    # no engine, no metrics: anything but the shortcut would fail
    assert provider(None, None, {}, {"result_format": {"result_format": "BASIC", "partial_unexpected_count": 0}}, {}) == []
    calls = []
    fake = _skipping_empty_requests(lambda cls, engine, domain, value, metrics: calls.append(value) or ["x"])
    for wanted in ({"result_format": "BASIC", "partial_unexpected_count": 3}, {"result_format": "COMPLETE",
                                                                             "partial_unexpected_count": 0}):
        assert fake(None, None, {}, {"result_format": wanted}, {}) == ["x"]
    assert len(calls) == 2


PAIR_ROWS = [(1, 0, "a"), (2, 3, "a"), (None, 1, "b"), (None, None, "b"), (5, None, "a"), (4, 4, "b"), (7, 1, None),
             (0, 9, "a")]


def _run_pairs(spark, expectations) -> tuple[list, int]:
    """A GX suite on PAIR_ROWS, as jobs.quality.validate runs it: (results, Spark jobs it ran)."""
    import uuid

    import great_expectations as gx

    from jobs.quality.gx_context import ephemeral_context

    df = spark.createDataFrame(PAIR_ROWS, "x int, y int, g string")
    context = ephemeral_context()
    batch = (context.data_sources.add_spark(name="s", persist=False).add_dataframe_asset(name="t")
             .add_batch_definition_whole_dataframe(name="w"))
    suite = context.suites.add(gx.ExpectationSuite(name="pairs", expectations=expectations))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    group = f"pairs-{uuid.uuid4().hex}"
    spark.sparkContext.setJobGroup(group, group)
    try:
        result = definition.run(batch_parameters={"dataframe": df},
                                result_format={"result_format": "BASIC", "partial_unexpected_count": 0})
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    jobs = len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))
    return [(r.success, r.result["element_count"], r.result["unexpected_count"], r.result.get("missing_count"))
            for r in result.results], jobs


def test_column_pair_counts_are_bundled_and_count_what_gx_counts(spark):
    """gx_pair_counts: column-pair counts are columns of the suite's aggregate query. The counts
    are GX's (ignore_row_if, row_condition, mostly), worked out here by hand, and a suite of
    four pair expectations on the same rows runs no more Spark jobs than a suite of one (GX's
    own providers run two jobs for each)."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations import registry
    from great_expectations.expectations.row_conditions import Column

    from jobs.quality.gx_pair_counts import bundle_column_pair_counts

    assert bundle_column_pair_counts() >= 2 * 3  # equal, a_greater_than_b, in_set: two counts each
    assert bundle_column_pair_counts() == bundle_column_pair_counts()  # idempotent
    providers = registry._registered_metrics["column_pair_values.a_greater_than_b.filtered_row_count"]["providers"]
    assert providers["SparkDFExecutionEngine"][1] is None  # read from the bundled aggregate

    greater = gxe.ExpectColumnPairValuesAToBeGreaterThanB
    five = [greater(column_A="x", column_B="y"),
            greater(column_A="x", column_B="y", or_equal=True, ignore_row_if="either_value_is_missing"),
            greater(column_A="x", column_B="y", ignore_row_if="neither", mostly=0.5),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="x", column_B="y", mostly=0.1),
            greater(column_A="x", column_B="y", row_condition=Column("g") == "a")]
    results, _ = _run_pairs(spark, five)
    # (success, rows, unexpected, ignored): a row with one value missing is never unexpected
    assert results == [
        (False, 8, 3, 1),   # (2,3) (4,4) (0,9); (None,None) ignored
        (False, 8, 2, 3),   # or_equal: (2,3) (0,9); three rows with a value missing ignored
        (True, 8, 3, 0),    # nothing ignored: 3 of 8 unexpected, mostly 0.5 holds
        (True, 8, 6, 1),    # equal only (4,4) of the 7 checked rows; mostly 0.1 holds
        (False, 4, 2, 0),   # g == "a": (1,0) (2,3) (5,None) (0,9); (2,3) and (0,9) unexpected
    ]
    # pairs that read the same rows (ignore_row_if, row_condition) share one query
    _, jobs_one = _run_pairs(spark, [greater(column_A="x", column_B="y")])
    _, jobs_four = _run_pairs(spark, [greater(column_A="x", column_B="y"), greater(column_A="y", column_B="x"),
                                      greater(column_A="x", column_B="y", or_equal=True),
                                      gxe.ExpectColumnPairValuesToBeEqual(column_A="x", column_B="y")])
    assert jobs_four == jobs_one, (jobs_one, jobs_four)
