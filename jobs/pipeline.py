"""One run = one arrival date: read every source's raw folder, validate, normalize,
reconcile, publish. I/O happens here and in jobs.storage; the transforms are pure."""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import __version__, faults, steps, storage
from jobs.config import Config
from jobs.contracts import raw_contract
from jobs.normalize import classify
from jobs.normalize.canonical import MappingContext
from jobs.normalize.parse import (PROBLEM, CsvHeader, drop_blank_lines, group_headers, parse_csv_lines,
                                  parse_json_lines, parse_table_rows)
from jobs.normalize.pii import PiiKey, drop_key, with_key
from jobs.normalize.sources import SourceSpec, source_specs
from jobs.normalize.typed import apply_contract
from jobs.quality import QualityThresholds, ValidationFailed, load_semantic, render_data_docs, validate
from jobs.spark_session import releases_dropped_frames

log = logging.getLogger("journeys")


class ReconciliationError(Exception):
    """rows_in != rows_out + rows_quarantined + rows_duplicate for some source."""


@dataclass
class SourceResult:
    source: str
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_bot: int = 0
    rows_late: int = 0
    files_read: int = 0
    bytes_read: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def is_balanced(self) -> bool:
        return self.rows_in == self.rows_out + self.rows_quarantined + self.rows_duplicate + self.rows_bot


@dataclass
class RunResult:
    run_id: str
    run_date: date
    sources: list[SourceResult]
    seconds: float
    validation_dir: str
    build: dict | None = None  # identity and journey figures of the build step

    @property
    def totals(self) -> SourceResult:
        total = SourceResult("all")
        for s in self.sources:
            for name in ("rows_in", "rows_out", "rows_quarantined", "rows_duplicate", "rows_bot", "rows_late",
                         "files_read",
                         "bytes_read"):
                setattr(total, name, getattr(total, name) + getattr(s, name))
            for code, n in s.quarantine_by_reason.items():
                total.quarantine_by_reason[code] = total.quarantine_by_reason.get(code, 0) + n
        return total


def mapping_context(config: Config, run_date: date) -> MappingContext:
    return MappingContext(
        arrival_date=run_date,
        reporting_timezone=config.reporting_timezone,
        max_lateness_days=config.windows.max_lateness_days,
        future_tolerance_minutes=config.windows.future_tolerance_minutes,
        min_event_date=config.quality.min_event_date,
        clock_skew_tolerance_seconds=config.windows.clock_skew_tolerance_seconds,
        phone_country_code=config.pii.default_country_code,
        phone_national_length=config.pii.national_number_length,
        phone_trunk_prefix=config.pii.trunk_prefix,
    )


def thresholds(config: Config, run_date: date) -> QualityThresholds:
    q = config.quality
    return QualityThresholds(
        max_bad_fraction=q.max_bad_fraction,
        min_timestamp=datetime.combine(q.min_event_date, datetime.min.time(), tzinfo=timezone.utc),
        # anything stamped after the day following the arrival cannot be a real event of this delivery
        max_timestamp=datetime.combine(run_date + timedelta(days=2), datetime.min.time(), tzinfo=timezone.utc),
    )


def stage_source(spark: SparkSession, spec: SourceSpec, config: Config, files: list[storage.RawFile],
                 run_date: date) -> DataFrame:
    """Raw files -> typed rows with `_problem` (unreadable files become one problem row each)."""
    src = getattr(config.sources, spec.name)
    contract = raw_contract(spec.contract)
    readable = [f for f in files if f.problem is None]
    limit = config.quality.max_record_bytes
    if src.format == "parquet":
        rows = (storage.read_raw_rows(spark, readable) if readable
                else spark.createDataFrame([], "source_file string, source_line long"))
        staged = parse_table_rows(rows, contract, src.column_mapping)
    else:
        lines = drop_blank_lines(storage.read_raw_lines(spark, readable, config.spark.max_lines_per_task))
        if src.format == "ndjson":
            staged = parse_json_lines(lines, contract, limit)
        else:
            groups = group_headers(storage.first_lines(readable), src.delimiter, src.column_mapping) or [
                CsvHeader(tuple(contract.column_names), ())]  # no files: an empty frame of the right shape
            data = lines.where("source_line > 1")
            staged = _union([parse_csv_lines(data, g, contract, src.delimiter, limit) for g in groups])
    unreadable = [f for f in files if f.problem is not None]
    if unreadable:
        broken = spark.createDataFrame(
            [(f.relative, None, None, f.size, f.problem) for f in unreadable],
            "source_file string, source_line long, value string, raw_bytes long, _detail string",
        ).select("source_file", "source_line", "value", "raw_bytes",
                 F.struct(F.lit("UNREADABLE_FILE").alias("code"), F.col("_detail").alias("detail")).alias(PROBLEM))
        staged = staged.unionByName(broken, allowMissingColumns=True)
    limits = thresholds(config, run_date)
    return apply_contract(staged, contract, src.timezone, limits.min_timestamp, limits.max_timestamp)


def _quality_frame(typed: DataFrame, spec: SourceSpec) -> DataFrame:
    """What the quality suite sees: contract columns without raw PII."""
    contract = raw_contract(spec.contract)
    return typed.select(*[c.name for c in contract.columns if not c.pii])


def new_run_id(run_day: date) -> str:
    return f"{run_day.isoformat()}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def run_date(spark: SparkSession, config: Config, run_day: date, key: PiiKey,
             progress: Callable[[str], None] | None = None) -> RunResult:
    """Every step for one arrival date in this process: normalize, build, validate, publish.
    `progress` gets one line per finished step: its rows and elapsed time."""
    from jobs import steps

    say = progress or (lambda line: None)
    t0 = lap = time.monotonic()

    def took() -> float:
        nonlocal lap
        now, since = time.monotonic(), lap
        lap = now
        return now - since

    result = normalize(spark, config, run_day, key)
    t = result.totals
    say(f"normalize: {t.rows_in:,} rows in, {t.rows_out:,} out, {t.rows_quarantined:,} quarantined, "
        f"{t.rows_duplicate:,} duplicate, {t.rows_bot:,} bot ({took():.1f} s)")
    build = steps.build_step(spark, config, run_day)
    result.build = build.to_dict()
    say(f"build: {build.customers:,} customers, {build.journey_events:,} journey events, "
        f"{build.journeys_written:,} journeys rewritten ({took():.1f} s)")
    reports = steps.validate_step(spark, config, run_day)
    say(f"validate: {sum(r.success for r in reports)} of {len(reports)} output suites passed ({took():.1f} s)")
    written = steps.publish_step(spark, config, run_day)
    say(f"publish: {len(written)} tables moved into place ({took():.1f} s)")
    result.seconds = time.monotonic() - t0
    return result


@releases_dropped_frames
def normalize(spark: SparkSession, config: Config, run_day: date, key: PiiKey, run_id: str | None = None) -> RunResult:
    """Read, validate, normalize and reconcile one arrival date; stage events, quarantine and
    crm_customers for the publish step. A failure appends failed rows to pipeline_runs."""
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    run_id = run_id or new_run_id(run_day)
    root = storage.staging_root(config.warehouse, run_day)
    steps.recover(spark, config, run_day)  # an interrupted publish of this date is finished first
    storage.drop_staging(spark, root)  # a rerun starts clean
    ctx = mapping_context(config, run_day)
    validation_dir = f"{config.warehouse.rstrip('/')}/_validation"
    results: list[SourceResult] = []
    events_parts, quarantine_parts, bot_parts, customers = [], [], [], None
    persisted: list[DataFrame] = []
    reports = []
    manifests: dict[str, list[dict]] = {}
    history = storage.history_event_ids(spark, config.warehouse, run_day, config.windows.max_lateness_days + 1)
    if history is not None:  # read once for the three event sources, and before publishing replaces files
        history = history.persist(StorageLevel.MEMORY_AND_DISK)
        persisted.append(history)
    try:
        staged = []
        for spec in source_specs(config):
            src = getattr(config.sources, spec.name)
            files = storage.list_raw_files(src.path, run_day)
            manifests[spec.name] = storage.manifest(files)
            result = SourceResult(spec.name, files_read=len(files), bytes_read=sum(f.size for f in files))
            if not files:
                result.warnings.append(f"no raw files in {storage.arrival_folder(src.path, run_day)}")
            typed = stage_source(spark, spec, config, files, run_day).persist(StorageLevel.MEMORY_AND_DISK)
            persisted.append(typed)
            result.rows_in = typed.count()
            staged.append((spec, typed, result))
        faults.point("normalize.sources_read")

        def gate(item):
            spec, typed, _ = item
            return validate(_quality_frame(typed, spec), raw_contract(spec.contract).raw,
                            load_semantic(spec.contract), thresholds(config, run_day), run_id, validation_dir)

        if config.quality.validate_raw:
            # suites side by side: on a day's data a suite mostly waits on small JVM queries
            with ThreadPoolExecutor(max_workers=config.quality.validation_threads) as pool:
                for (_, _, result), report in zip(staged, pool.map(gate, staged)):
                    reports.append(report)
                    result.warnings.extend(report.warnings)
                    if not report.success and not config.quality.enforce:
                        result.warnings.extend(f"critical (not enforced): {line}" for line in report.critical_failures)
        else:
            for _, _, result in staged:
                result.warnings.append("raw validation skipped (quality.validate_raw: false)")

        for spec, typed, result in staged:
            mapped = drop_key(spec.mapper(with_key(typed, spark, key), ctx))
            if spec.latest_wins_key:
                classified = classify.classify_latest(mapped, spec.latest_wins_key, "updated_at")
            else:
                repeats = classify.repeated_copies(mapped, history).persist(StorageLevel.MEMORY_AND_DISK)
                persisted.append(repeats)
                few = repeats.count() <= config.spark.max_broadcast_rows
                events = classify.classify_events(mapped, repeats, broadcast=few)
                heavy = classify.heavy_ids(events, config.bots.id_columns,
                                           config.bots.max_events_per_day).persist(StorageLevel.MEMORY_AND_DISK)
                persisted.append(heavy)
                classified = classify.mark_bots(events, heavy, config.bots.id_columns)
            classified = classify.raw_only_where_quarantined(classified).persist(StorageLevel.MEMORY_AND_DISK)
            persisted.append(classified)
            _count_outcomes(classified, result)
            # the classified rows are cached now and hold all that is written from here: the typed
            # rows' memory goes to the next source (at 10M each copy is gigabytes)
            typed.unpersist()
            results.append(result)
            if spec.table == "events":
                events_parts.append(classify.accepted(classified, "events"))
                bot_parts.append(classify.bots(classified))
            else:
                customers = classify.accepted(classified, spec.table)
            quarantine_parts.append(classify.quarantined(classified, spec.name, run_day))
            log.info("normalize %s: %d in, %d out, %d quarantined, %d duplicate, %d bot", spec.name, result.rows_in,
                     result.rows_out, result.rows_quarantined, result.rows_duplicate, result.rows_bot)

        unbalanced = [r for r in results if not r.is_balanced]
        if unbalanced:
            raise ReconciliationError("; ".join(
                f"{r.source}: rows_in {r.rows_in} != out {r.rows_out} + quarantined {r.rows_quarantined} "
                f"+ duplicate {r.rows_duplicate} + bot {r.rows_bot}" for r in unbalanced))
        failed = [r for r in reports if not r.success]
        if failed and config.quality.enforce:
            raise ValidationFailed(failed)

        day = run_day.isoformat()
        storage.stage_table(_union(events_parts), root, "events", ["event_at", "event_id"],
                            {"glob": f"event_date=*/arrival_date={day}"})
        storage.stage_table(_union(bot_parts), root, "bots", ["bot_id", "event_at", "event_id"],
                            {"glob": f"event_date=*/arrival_date={day}"})
        storage.stage_table(_union(quarantine_parts), root, "quarantine", ["source_file", "source_line"],
                            {"glob": f"arrival_date={day}/source=*"})
        storage.stage_table(customers, root, "crm_customers", ["customer_id"], {"glob": f"arrival_date={day}"})
        finished = datetime.now(timezone.utc)
        storage.write_json(f"{root}/_reports/normalize.json", {
            "run_id": run_id, "run_date": day, "files": manifests,
            "runs": [_run_row(run_id, run_day, r, "succeeded", started, finished, config) for r in results]})
        return RunResult(run_id, run_day, results, time.monotonic() - t0, validation_dir)
    except Exception:
        if results:
            finished = datetime.now(timezone.utc)
            storage.append_runs(spark, config.warehouse, [
                _run_row(run_id, run_day, r, "failed", started, finished, config) for r in results], "normalize")
        raise
    finally:
        if reports:  # failed runs need their page most
            render_data_docs(validation_dir)
        for df in persisted:
            df.unpersist()


def _count_outcomes(classified: DataFrame, result: SourceResult) -> None:
    for row in classify.outcome_counts(classified).collect():
        outcome, code, n = row[classify.OUTCOME], row["reason_code"], row["count"]
        if outcome == classify.OUT:
            result.rows_out += n
            result.rows_late += n if row["is_late"] else 0
        elif outcome == classify.DUPLICATE:
            result.rows_duplicate += n
        elif outcome == classify.BOT:
            result.rows_bot += n
        else:
            result.rows_quarantined += n
            result.quarantine_by_reason[code] = result.quarantine_by_reason.get(code, 0) + n


def _union(parts: list[DataFrame]) -> DataFrame:
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def _run_row(run_id: str, run_day: date, r: SourceResult, status: str, started: datetime, finished: datetime,
             config: Config) -> dict:
    return {
        "run_id": run_id, "step": "normalize", "source": r.source, "status": status,
        "rows_in": r.rows_in, "rows_out": r.rows_out, "rows_quarantined": r.rows_quarantined,
        "rows_duplicate": r.rows_duplicate, "rows_bot": r.rows_bot, "rows_late": r.rows_late,
        "is_balanced": r.is_balanced,
        "quarantine_by_reason": dict(sorted(r.quarantine_by_reason.items())), "warnings": r.warnings, "metrics": None,
        "files_read": r.files_read, "bytes_read": r.bytes_read,
        "started_at": started, "finished_at": finished,
        "config_digest": config.digest(), "code_version": __version__, "run_date": run_day,
    }
