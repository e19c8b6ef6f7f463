"""Validate a typed-staging Spark DataFrame of one raw source with its GX suite."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .gx_context import ephemeral_context
from .gx_pair_counts import bundle_column_pair_counts
from .gx_samples import skip_empty_sample_queries
from .suites import build_suite, expectation_columns, pii_columns, validated_columns
from .thresholds import QualityThresholds

log = logging.getLogger(__name__)

#: Marks the JSON files this module writes (render_data_docs only reads these).
REPORT_FORMAT = "customer_journeys.quality.validation/1"

#: BASIC gives unexpected counts and percents. No sample values are collected
#: (partial_unexpected_count 0): samples would cost one Spark job per row-level
#: expectation, and the bad rows are in the quarantine table with their reason anyway
#: (gx_samples.py keeps GX from even planning the empty sample query).
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}

_SAFE = re.compile(r"[^A-Za-z0-9_.=+-]")


def safe_run_name(run_name: str) -> str:
    """The run name as used for folders and GX run ids (``/``, ``:``... become ``_``)."""
    name = _SAFE.sub("_", str(run_name)).strip("._")
    if not name:
        raise ValueError(f"run_name {run_name!r} is empty once made file-system safe")
    return name


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of validating one source (one suite) for one run."""

    suite_name: str
    success: bool  # False iff a critical expectation failed
    critical_failures: list[str]
    warnings: list[str]
    evaluated: int
    json_path: Path
    run_name: str = ""
    row_count: int | None = None
    duration_seconds: float = 0.0
    expectations: list[dict] = field(default_factory=list, repr=False)

    def raise_if_failed(self) -> "ValidationReport":
        if not self.success:
            raise ValidationFailed(self)
        return self


class ValidationFailed(Exception):
    """Raised when at least one critical expectation failed; carries the report(s)."""

    def __init__(self, reports: ValidationReport | Sequence[ValidationReport]):
        if isinstance(reports, ValidationReport):
            reports = [reports]
        self.reports: tuple[ValidationReport, ...] = tuple(reports)
        failing = [r for r in self.reports if not r.success]
        n = sum(len(r.critical_failures) for r in failing)
        lines = [
            f"raw data validation failed: {n} critical expectation(s) failed in "
            f"{len(failing)} suite(s): {', '.join(r.suite_name for r in failing)}"
        ]
        for report in failing:
            for line in report.critical_failures:
                lines.append(f"[{report.suite_name}] {line}")
        for report in failing:
            lines.append(f"results: {report.json_path}")
        super().__init__("\n".join(lines))

    def __reduce__(self):  # picklable (multiprocessing, task runners)
        return (type(self), (self.reports,))

    @property
    def critical_failures(self) -> list[str]:
        return [f"[{r.suite_name}] {line}" for r in self.reports for line in r.critical_failures]


def raise_for_failures(reports: Iterable[ValidationReport]) -> None:
    """Raise one ValidationFailed for all failing reports (after recording every source)."""
    reports = list(reports)
    if any(not r.success for r in reports):
        raise ValidationFailed(reports)


# --------------------------------------------------------------------------- summaries


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}%"


def _condition_text(cond: Any) -> str | None:
    if cond is None:
        return None
    if isinstance(cond, Mapping):
        kind = cond.get("type")
        if kind in ("and", "or"):
            parts = [_condition_text(c) or "?" for c in cond.get("conditions") or []]
            return f" {kind.upper()} ".join(parts)
        col = cond.get("column")
        col = col.get("name") if isinstance(col, Mapping) else col
        if kind == "nullity":
            return f"{col} IS {'NULL' if cond.get('is_null') else 'NOT NULL'}"
        if kind == "comparison":
            return f"{col} {cond.get('operator')} {cond.get('parameter')!r}"
        if kind == "pass_through":
            return str(cond.get("pass_through_filter"))
    return str(cond)


def _threshold_text(etype: str, kwargs: Mapping[str, Any], row_level: bool) -> str:
    if row_level or "mostly" in kwargs:
        # GX drops kwargs equal to their default from the serialised config: mostly=1
        mostly = float(kwargs.get("mostly", 1.0))
        if mostly >= 1.0:
            return "no unexpected rows allowed"
        return f"at most {_pct((1 - mostly) * 100)} unexpected (mostly={mostly:g})"
    if etype == "expect_table_columns_to_match_set":
        return "every non-PII contract column present"
    bounds = []
    for key in ("min_value", "max_value", "value", "value_set"):
        if kwargs.get(key) is not None:
            bounds.append(f"{key}={kwargs[key]}")
    return ", ".join(bounds) or "see suite"


def _summarise(result: Any, tolerated_bad_rows: int = 0) -> dict:
    """One ExpectationValidationResult (as a JSON dict) -> a flat summary with its line."""
    cfg = result["expectation_config"]
    etype = cfg["type"]
    kwargs = {k: v for k, v in (cfg.get("kwargs") or {}).items() if k != "batch_id"}
    severity = str(cfg.get("severity") or "critical")
    res = result.get("result") or {}
    exc = result.get("exception_info") or {}
    cols = expectation_columns(kwargs)
    cond = _condition_text(kwargs.get("row_condition"))
    meta = cfg.get("meta") or {}
    head = etype + (f"({', '.join(cols)})" if cols else "")
    if cond:
        head += f" where {cond}"
    element_count = res.get("element_count")
    unexpected = res.get("unexpected_count")
    threshold = _threshold_text(etype, kwargs, row_level=unexpected is not None)
    missing = res.get("missing_count") or 0
    if exc.get("raised_exception"):
        message = (exc.get("exception_message") or "error").strip().splitlines()
        detail = f"could not be evaluated: {message[0] if message else 'error'}"
    elif unexpected is not None:
        checked = (element_count or 0) - missing
        detail = f"{unexpected} of {checked} checked rows unexpected ({_pct(res.get('unexpected_percent'))})"
    elif etype == "expect_table_columns_to_match_set":
        mismatched = (res.get("details") or {}).get("mismatched") or {}
        missing_cols = mismatched.get("missing") or []
        detail = f"missing columns: {', '.join(missing_cols)}" if missing_cols else "columns as expected"
    else:
        detail = f"observed {res.get('observed_value')!r}"
    line = f"{head}: {detail}; threshold: {threshold}"
    success = bool(result.get("success"))
    # A critical row-level check broken by only a handful of rows (small sources) is
    # recorded as a warning: those rows are quarantined, the feed is not broken.
    tolerated = (
        not success
        and severity == "critical"
        and not exc.get("raised_exception")
        and unexpected is not None
        and unexpected <= tolerated_bad_rows
    )
    if tolerated:
        line += f" (tolerated: at most {tolerated_bad_rows} bad rows never stop the run)"
    if meta.get("description"):
        line += f" -- {meta['description']}"
    return {
        "expectation_type": etype,
        "columns": cols,
        "row_condition": cond,
        "kwargs": kwargs,
        "severity": severity,
        "origin": meta.get("origin"),
        "description": meta.get("description"),
        "success": success,
        "tolerated": tolerated,
        "effective_severity": "warning" if tolerated else severity,
        "element_count": element_count,
        "missing_count": res.get("missing_count"),
        "unexpected_count": unexpected,
        "unexpected_percent": res.get("unexpected_percent"),
        "observed_value": res.get("observed_value"),
        "raised_exception": bool(exc.get("raised_exception")),
        "line": line,
    }


def _row_count(summaries: list[dict]) -> int | None:
    for s in summaries:
        if s["expectation_type"] == "expect_table_row_count_to_be_between" and isinstance(
            s["observed_value"], int
        ):
            return s["observed_value"]
    counts = [s["element_count"] for s in summaries if s["element_count"] is not None and not s["row_condition"]]
    return max(counts) if counts else None


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, sort_keys=True, indent=2, default=str, ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- validate

_CHEAP_LEAVES = {"InMemoryRelation", "LocalRelation", "OneRowRelation"}


def _reads_cached_data_only(frame) -> bool:
    """True when every leaf of the frame's plan (after cache substitution) is cached or
    local data: caching it again would only duplicate memory. Needs classic PySpark
    (py4j); anything else answers False, and the frame is cached for the validation."""
    try:
        leaves = frame._jdf.queryExecution().withCachedData().collectLeaves()
        names = {leaves.apply(i).getClass().getSimpleName() for i in range(leaves.length())}
    except Exception:
        return False
    return bool(names) and names <= _CHEAP_LEAVES


def validate(
    df,
    contract: Mapping[str, Any],
    semantic: Mapping[str, Any] | None,
    thresholds: QualityThresholds,
    run_name: str,
    out_dir: str | Path,
) -> ValidationReport:
    """Run the source's suite on a typed-staging Spark DataFrame.

    Only the non-PII contract columns are handed to GX (unknown helper columns are
    ignored; PII columns, if present by mistake, are dropped with a warning). The frame
    is cached for the validation unless it already is. The full result is written to
    ``out_dir/<run_name>/<suite>.json``; the returned report has ``success=False`` iff a
    critical expectation failed. It does not raise: call ``report.raise_if_failed()``
    or ``raise_for_failures(reports)``.
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from pyspark import StorageLevel

    import great_expectations as gx

    started = time.perf_counter()
    skip_empty_sample_queries()
    bundle_column_pair_counts()
    run = safe_run_name(run_name)
    suite = build_suite(contract, semantic, thresholds)
    suite_name = suite.name

    present = set(df.columns)
    leaked = [c for c in pii_columns(contract) if c in present]
    if leaked:
        log.warning("%s: PII columns %s dropped before validation (GX never sees raw PII)", suite_name, leaked)
    keep = [c for c in validated_columns(contract) if c in present]
    frame = df.select(*keep)
    cached_here = False
    if not _reads_cached_data_only(frame):
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        cached_here = True

    run_time = dt.datetime.now(dt.timezone.utc)
    try:
        context = ephemeral_context()
        # persist=False: caching is decided above, and GX would cache the frame again and never
        # release it (every raw source of every night stayed in a long session's block manager)
        asset = context.data_sources.add_spark(name="raw", persist=False).add_dataframe_asset(name=suite_name)
        batch_definition = asset.add_batch_definition_whole_dataframe(name="whole_frame")
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite_name}__{run}", data=batch_definition, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": frame},
            result_format=dict(RESULT_FORMAT),
            run_id=RunIdentifier(run_name=run, run_time=run_time),
        )
        keys = context.validation_results_store.list_keys()
        batch_identifier = keys[0].batch_identifier if keys else f"raw-{suite_name}"
    finally:
        if cached_here:
            frame.unpersist()

    gx_result = result.to_json_dict()
    summaries = [_summarise(r, thresholds.tolerated_bad_rows) for r in gx_result["results"]]
    critical = [s["line"] for s in summaries if not s["success"] and s["effective_severity"] == "critical"]
    warnings = [s["line"] for s in summaries if not s["success"] and s["effective_severity"] != "critical"]
    duration = time.perf_counter() - started
    json_path = Path(out_dir) / run / f"{suite_name}.json"
    report = ValidationReport(
        suite_name=suite_name,
        success=not critical,
        critical_failures=critical,
        warnings=warnings,
        evaluated=len(summaries),
        json_path=json_path,
        run_name=run,
        row_count=_row_count(summaries),
        duration_seconds=round(duration, 3),
        expectations=summaries,
    )
    _write_json(
        json_path,
        {
            "format": REPORT_FORMAT,
            "suite_name": suite_name,
            "source": contract["name"],
            "run_name": run,
            "run_time": run_time.isoformat(),
            "gx_batch_identifier": batch_identifier,
            "success": report.success,
            "evaluated": report.evaluated,
            "row_count": report.row_count,
            "duration_seconds": report.duration_seconds,
            "critical_failures": critical,
            "warnings": warnings,
            "thresholds": thresholds.to_dict(),
            "expectations": summaries,
            "suite": suite.to_json_dict(),
            "gx_result": gx_result,
        },
    )
    level = logging.INFO if report.success else logging.ERROR
    log.log(
        level,
        "validated %s (run %s): %s, %d expectations, %d critical failure(s), %d warning(s) in %.2fs",
        suite_name,
        run,
        "passed" if report.success else "FAILED",
        report.evaluated,
        len(critical),
        len(warnings),
        duration,
    )
    for line in warnings:
        log.warning("%s: %s", suite_name, line)
    return report
