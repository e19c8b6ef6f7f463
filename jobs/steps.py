"""Spark entry points, one per pipeline step, for Airflow's SparkSubmitOperator or a shell:

    spark-submit jobs/steps.py normalize --config config/journeys.yaml --date 2026-01-05
    python -m jobs.steps all --date 2026-01-05

Steps for one arrival date, in order: normalize -> build -> validate -> publish. Every
step but publish writes only below `<warehouse>/_staging/arrival_date=<date>/`; publish
moves the staged partitions into place. Exit codes: 0 done, 1 failed, 2 usage or config.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

from pyspark.sql import SparkSession

from jobs import __version__, faults, storage
from jobs.analytics.analyse import TABLES as ANALYTICS_TABLES
from jobs.config import Config, ConfigError, load_config
from jobs.spark_session import releases_dropped_frames

log = logging.getLogger("journeys.steps")
STEPS = ("normalize", "build", "validate", "publish", "all")
# what each output table is checked for before it is published (expectations/<table>.yaml)
OUTPUT_SUITES = ("identity_map", "customers", "journey_events", "journeys", *ANALYTICS_TABLES)


def recover(spark: SparkSession, config: Config, day: date) -> None:
    """Every step of a date first finishes that date's interrupted publish, if there is one."""
    written = storage.recover(spark, config.warehouse, day)
    if written is not None:
        log.warning("finished the interrupted publish of %s: %s", day, "; ".join(written))


def build_step(spark: SparkSession, config: Config, day: date, window_start: date | None = None):
    from jobs.build import build

    recover(spark, config, day)
    return build(spark, config, day, window_start)


@releases_dropped_frames
def validate_step(spark: SparkSession, config: Config, day: date) -> list:
    """Great Expectations output suites on the staged tables; a critical failure raises."""
    from jobs.quality import QualityThresholds, ValidationFailed, render_data_docs

    recover(spark, config, day)
    root = storage.staging_root(config.warehouse, day)
    out_dir = f"{config.warehouse.rstrip('/')}/_validation"
    # outputs are ours: not one bad row is tolerated, and timestamps keep the raw range
    thresholds = QualityThresholds(
        max_bad_fraction=0.0, tolerated_bad_rows=0,
        min_timestamp=datetime.combine(config.quality.min_event_date, datetime.min.time(), tzinfo=timezone.utc),
        max_timestamp=datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(days=3))
    def check(table: str):
        df = storage.read_staged(spark, root, table)
        if df is None:
            raise RuntimeError(f"{table} is not staged for {day}: run the build step first")
        return validate_output(df, table, thresholds, f"{day.isoformat()}-outputs", out_dir)

    reports = []
    try:
        # On small tables a suite's time is mostly Python waiting on the JVM for one small
        # query after another, so suites run side by side; each has its own GX context.
        with ThreadPoolExecutor(max_workers=config.quality.validation_threads) as pool:
            for report in pool.map(check, OUTPUT_SUITES):
                reports.append(report)
    finally:
        if reports:
            render_data_docs(out_dir)
    faults.point("validate.done")
    failed = [r for r in reports if not r.success]
    if failed and config.quality.enforce:
        raise ValidationFailed(failed)
    return reports


def validate_output(df, table: str, thresholds, run_name: str, out_dir: str):
    """One output table's suite (expectations/<table>.yaml plus its contract checks), on its
    scalar columns: GX checks no map or array column."""
    from jobs.contracts import table_contract
    from jobs.quality import load_semantic, validate

    contract = table_contract(table)
    simple = [c.name for c in contract.columns if not c.type.startswith(("map<", "array<"))]
    raw = {**contract.raw, "columns": [c for c in contract.raw["columns"] if c["name"] in simple]}
    return validate(df.select(*simple), raw, load_semantic(table), thresholds, run_name, out_dir)


def publish_step(spark: SparkSession, config: Config, day: date) -> list[str]:
    """Move every staged table into place, record the run, drop the staging folder. A publish
    of this date that was interrupted is finished instead (its journal says what to do)."""
    wh = config.warehouse
    root = storage.staging_root(wh, day)
    journal = storage.read_commit(root)
    if journal is None:
        journal = _begin_publish(spark, config, day, root)
        faults.point("publish.commit_started")
    else:
        log.warning("publish %s: finishing the interrupted commit of %s", day, root)
    written = storage.apply_commit(spark, wh, root, journal)
    storage.drop_staging(spark, root)
    return written


def _begin_publish(spark: SparkSession, config: Config, day: date, root: str) -> dict:
    normalize_report = storage.read_json(f"{root}/_reports/normalize.json")
    build_report = storage.read_json(f"{root}/_reports/build.json")
    if normalize_report is None and build_report is None:
        raise RuntimeError(f"nothing staged for {day}: run the normalize and build steps first")
    if normalize_report is None:  # a build rerun over already published events
        normalize_report = {"run_id": f"{day.isoformat()}-build", "runs": [], "files": {}}
    run_id = normalize_report["run_id"]
    rows = [_typed_run_row(r) for r in normalize_report["runs"]]
    if build_report is not None:
        rows.append(_build_row(normalize_report, build_report, config))
    files = []
    if rows:
        files.append({"src": storage.stage_runs(spark, rows, f"{root}/_files/pipeline_runs"),
                      "dst": storage.runs_file(config.warehouse, day, run_id, "publish")})
    plan = storage.plan_commit(spark, config.warehouse, root)
    storage.write_json(f"{root}/_files/manifest.json", {
        "run_id": run_id, "run_date": day.isoformat(), "files": normalize_report["files"],
        "tables": [f"{t['table']}: {len(t['moves'])} partition(s)" for t in plan]})
    files.append({"src": f"{root}/_files/manifest.json",
                  "dst": f"{config.warehouse.rstrip('/')}/_manifests/run_date={day.isoformat()}/{run_id}.json"})
    return storage.begin_commit(root, plan, files)


def _typed_run_row(row: dict) -> dict:
    out = dict(row)
    for k in ("started_at", "finished_at"):
        out[k] = datetime.fromisoformat(out[k])
    out["run_date"] = date.fromisoformat(out["run_date"])
    out.setdefault("metrics", None)
    return out


def _build_row(normalize_report: dict, build: dict, config: Config) -> dict:
    now = datetime.now(timezone.utc)
    metrics = {"customers": build["customers"], "ids": build["ids"], "shared_ids": build["shared_ids"],
               "cc_rounds": build["cc_rounds"], "oversized_components": build["oversized_components"],
               "rekeyed_ids": build["rekeyed_ids"], "journeys_written": build["journeys_written"],
               **{f"journeys_{k}": v for k, v in build["journeys_by_status"].items()},
               **{f"components_size_{k}": v for k, v in build["components_by_size"].items()}}
    return {
        "run_id": normalize_report["run_id"], "step": "build", "source": "all", "status": "succeeded",
        "rows_in": build["events_in_window"], "rows_out": build["journey_events"], "rows_quarantined": 0,
        "rows_duplicate": 0, "rows_bot": 0, "rows_late": 0,
        "is_balanced": build["events_in_window"] == build["journey_events"],
        "quarantine_by_reason": {}, "warnings": build["warnings"], "files_read": 0, "bytes_read": 0,
        "started_at": now, "finished_at": now, "config_digest": config.digest(), "code_version": __version__,
        "run_date": date.fromisoformat(build["run_date"]), "metrics": metrics,
    }


def run_step(step: str, config: Config, day: date) -> dict:
    from jobs.normalize.pii import resolve_key
    from jobs.pipeline import normalize
    from jobs.spark_session import get_spark

    spark = get_spark(config)
    out: dict = {"step": step, "date": day.isoformat()}
    if step in ("normalize", "all"):
        key = resolve_key(config.pii.key_env, config.pii.min_key_length, allow_demo=False,
                          airflow_conn_id=config.pii.airflow_conn_id)
        result = normalize(spark, config, day, key)
        out["normalize"] = {"run_id": result.run_id, "rows_in": result.totals.rows_in,
                            "rows_out": result.totals.rows_out, "rows_quarantined": result.totals.rows_quarantined,
                            "rows_duplicate": result.totals.rows_duplicate}
    if step in ("build", "all"):
        out["build"] = build_step(spark, config, day).to_dict()
    if step in ("validate", "all"):
        out["validate"] = {r.suite_name: r.success for r in validate_step(spark, config, day)}
    if step in ("publish", "all"):
        out["publish"] = publish_step(spark, config, day)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="jobs.steps", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=STEPS)
    p.add_argument("--date", required=True, help="arrival date (YYYY-MM-DD)")
    p.add_argument("--config", help="YAML config (default: config/journeys.yaml)")
    p.add_argument("--json", action="store_true", help="print the step's result as JSON")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        day = date.fromisoformat(args.date)
        config = load_config(args.config)
    except (ValueError, ConfigError) as exc:
        print(f"jobs.steps: {exc}", file=sys.stderr)
        return 2
    try:
        out = run_step(args.step, config, day)
    except Exception as exc:
        log.error("%s %s failed: %s", args.step, day, exc)
        print(f"jobs.steps: {args.step} {day} failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2, default=str) if args.json else f"{args.step} {day}: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
