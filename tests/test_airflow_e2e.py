"""End to end through Airflow: `airflow dags test journeys_nightly` on generated sample data,
with real spark-submit (local mode) and real Great Expectations: one date runs every task,
its rerun leaves every table identical, and a failing expectation publishes nothing. Nights
following nights are tests/test_journeys_e2e.py's subject (the same step functions, in-process)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from conftest import SHORT_RUN_JVM, TINY_DATA_CONF
from jobs.config import load_config

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
TABLES = ("events", "quarantine", "crm_customers", "identity_map", "customers", "journey_events", "journeys",
          "stage_funnel", "funnel_results", "journey_paths", "friction_occurrences", "friction_points", "touchpoints")
D1, D2, D3 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
E2E_KEY = "e2e-test-key-0123456789abcdef"

pytestmark = pytest.mark.slow


def table_digest(warehouse: Path, table: str) -> tuple[str, int]:
    """Order-independent digest of a table's rows (sorted row hashes), partition columns included."""
    import pyarrow.dataset as ds

    rows = ds.dataset(warehouse / table, format="parquet", partitioning="hive").to_table().to_pylist()
    lines = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest(), len(lines)


def snapshot(warehouse: Path) -> dict[str, tuple[str, int]]:
    return {t: table_digest(warehouse, t) for t in TABLES}


class Airflow:
    def __init__(self, root: Path, config: Path):
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "AIRFLOW"))}
        self.env = {**clean, "AIRFLOW_HOME": str(root / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "JOURNEYS_CONFIG": str(config),
                    "JOURNEYS_TIMEZONE": "UTC", "JOURNEYS_PII_KEY": E2E_KEY,
                    # `airflow dags test` waits out a failed task's retry delay: 1 s, not 5 min
                    "JOURNEYS_RETRY_DELAY": "1",
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.logs = root / "logs"
        self.logs.mkdir()

    def __call__(self, *args: str, name: str, timeout: int = 1800, env: dict | None = None) -> tuple[int, str]:
        done = subprocess.run([str(BIN / "airflow"), *args], env={**self.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)
        log = done.stdout + done.stderr
        (self.logs / f"{name}.log").write_text(log)
        return done.returncode, log


def task_seconds(log: str) -> dict[str, float]:
    from datetime import datetime

    start, took = {}, {}
    for m in re.finditer(r"(\S+Z) .*\[DAG TEST\] (starting task_id=|end task task_id=)(\w+)", log):
        t = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        if m.group(2).startswith("starting"):
            start[m.group(3)] = t
        elif m.group(3) in start:
            took[m.group(3)] = round((t - start[m.group(3)]).total_seconds(), 1)
    return took


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    from jobs.generator import generate

    if not (BIN / "spark-submit").exists():
        pytest.fail(f"spark-submit not found in {BIN}: run `bash scripts/setup.sh`")
    root = tmp_path_factory.mktemp("airflow-e2e")
    generate(root / "landing", customers=100, days=2, seed=5, start_date=D1)
    config = load_config(ROOT / "config" / "journeys.yaml").with_overrides(
        warehouse=str(root / "warehouse"),
        sources={s: {"path": str(root / "raw" / s)} for s in SOURCES},
        extract={"landing": {s: {"uri": str(root / "landing" / s)} for s in SOURCES}},
        spark={"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "1g", "conf": TINY_DATA_CONF,
               "jvm_options": SHORT_RUN_JVM})
    config_file = root / "journeys.yaml"
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    airflow = Airflow(root, config_file)
    code, log = airflow("db", "migrate", name="db-migrate", timeout=300)
    assert code == 0, log[-3000:]
    conns = root / "connections.json"
    conns.write_text(json.dumps({"spark_default": {"conn_type": "spark", "host": "local[2]"}}))
    code, log = airflow("connections", "import", "--overwrite", str(conns), name="connections")
    assert code == 0, log[-3000:]

    # logical date D+1 00:00 UTC: the run processes D
    runs = {D1: airflow("dags", "test", "journeys_nightly", str(D2), name=f"dags-test-{D1}")}
    return root, config, airflow, runs


def test_a_date_runs_every_task(deployment):
    root, config, airflow, runs = deployment
    for day, (code, log) in runs.items():
        assert code == 0, f"{day} failed; log in {airflow.logs}:\n" + "\n".join(log.splitlines()[-60:])
        assert f"this run processes arrival date {day}" in log
        times = task_seconds(log)
        assert set(times) == {"choose_date", *(f"extract_{s}" for s in SOURCES), "normalize", "build", "validate",
                              "publish", "report"}, times
        print(f"\n{day} task wall times: {times}")
    assert "spark-submit --master local[2]" in runs[D1][1]
    assert f"{SHORT_RUN_JVM}" in runs[D1][1]  # the config's jvm_options reach the driver JVM's command line
    assert f"-XX:SharedArchiveFile={config.spark.class_archive}" in runs[D1][1]  # and so does the class archive
    assert "journeys step normalize for 2026-01-05" in runs[D1][1]


def test_tables_exist_and_reconcile(deployment):
    from jobs.summary import summary

    root, config, airflow, runs = deployment
    s = summary(config, [D1])
    assert s["dates"] == ["2026-01-05"]
    assert set(s["sources"]) == set(SOURCES) and s["balanced"]
    for name, t in s["sources"].items():
        assert t["rows_in"] == t["rows_out"] + t["rows_quarantined"] + t["rows_duplicate"] + t["rows_bot"], name
    assert s["sources"]["clickstream"]["rows_out"] > 400  # the crawler's ~1,200 rows are in bots
    assert s["build"]["run_date"] == "2026-01-05" and s["build"]["customers"] > 50, s["build"]
    assert sum(s["build"]["journeys_by_status"].values()) > 0
    for table in TABLES:
        assert s["tables"].get(table, 0) > 0, (table, s["tables"])
    for source in SOURCES:
        manifest = json.loads((root / "raw" / source / f"arrival_date={D1}" / "_manifest.json").read_text())
        assert manifest["method"] == "files" and manifest["file_count"] >= 1
    assert not (root / "warehouse" / "_staging" / f"arrival_date={D1}").exists()
    assert "rows per table:" in runs[D1][1] and "identity after 2026-01-05:" in runs[D1][1]  # the report task


def task_tries(root: Path, logical_date: str = "2026-01-06") -> tuple[dict[str, tuple[int, str]], list[tuple]]:
    """From Airflow's metadata DB: {task_id: (try_number, state)} of the run at that logical date,
    and the (task_id, try_number, state) of its earlier tries (task_instance_history). Each
    `airflow dags test` replaces the run of its logical date, so tries count from 1 per call."""
    import sqlite3

    with sqlite3.connect(root / "airflow" / "airflow.db") as db:
        run_ids = [r[0] for r in db.execute("SELECT run_id FROM dag_run WHERE dag_id = 'journeys_nightly' "
                                            "AND logical_date LIKE ?", (f"{logical_date}%",))]
        assert len(run_ids) == 1, run_ids
        now = {t: (n, st) for t, n, st in db.execute(
            "SELECT task_id, try_number, state FROM task_instance WHERE run_id = ?", run_ids)}
        history = sorted(db.execute("SELECT task_id, try_number, state FROM task_instance_history "
                                    "WHERE run_id = ?", run_ids))
    return now, history


def test_rerunning_the_date_leaves_every_table_identical(deployment):
    """The rerun also shows that a task made to fail mid-way succeeds on retry: its publish task is
    killed (SIGKILL, jobs/faults.py) halfway through its commit, after the third partition moved
    into place; Airflow retries it, the retry finishes the commit from its journal, and every
    table equals the clean first run's."""
    import pyarrow.dataset as ds

    root, config, airflow, runs = deployment
    warehouse = root / "warehouse"
    before = snapshot(warehouse)
    runs_before = ds.dataset(warehouse / "pipeline_runs", partitioning="hive").count_rows()
    marker = root / "publish-killed-once"
    fault = {"JOURNEYS_FAULT": "publish.partition_moved#3", "JOURNEYS_FAULT_ACTION": "kill",
             "JOURNEYS_FAULT_ONCE": str(marker)}
    code, log = airflow("dags", "test", "journeys_nightly", str(D2), name=f"dags-test-{D1}-rerun", env=fault)
    assert code == 0, "\n".join(log.splitlines()[-60:])
    assert snapshot(warehouse) == before
    assert ds.dataset(warehouse / "pipeline_runs", partitioning="hive").count_rows() > runs_before  # audited
    assert not (warehouse / "_staging" / f"arrival_date={D1}").exists()
    # the publish process really was killed once, mid-commit, and the task was retried
    assert marker.read_text() == "publish.partition_moved#3"
    assert "Error code is: 137" in log  # spark-submit reports the driver's SIGKILL (128 + 9)
    assert log.count("[DAG TEST] starting task_id=publish ") == 2
    assert re.search(r"interrupted (commit|publish)", log)  # the retry rolled the journal forward
    tries, history = task_tries(root)
    assert tries["publish"] == (2, "success") and ("publish", 1, "failed") in history, (tries, history)
    assert {t: v for t, v in tries.items() if t != "publish"} == {t: (1, "success") for t in tries if t != "publish"}


def test_a_failing_expectation_fails_the_run_and_publishes_nothing(deployment):
    root, config, airflow, runs = deployment
    warehouse = root / "warehouse"
    before = snapshot(warehouse)
    from fuzz_rows import CALL, CALL_COLS, csv_line

    folder = root / "landing" / "calls" / f"arrival_date={D3}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [[f"K{i}" if i % 3 else "", *CALL[1:]] for i in range(60)]  # a third without call_id
    (folder / "calls.csv").write_text("\n".join([",".join(CALL_COLS)] + [csv_line(r) for r in rows]) + "\n")
    code, log = airflow("dags", "test", "journeys_nightly", "2026-01-08", name=f"dags-test-{D3}-failing")
    assert code != 0
    assert "not_be_null(call_id)" in log  # the failing expectation is named in the task log
    assert "step normalize exited with 1" in log and "not retried" in log
    times = task_seconds(log)
    assert "normalize" in times and not {"build", "validate", "publish", "report"} & set(times)
    assert snapshot(warehouse) == before
    assert not list((warehouse / "events").glob(f"event_date=*/arrival_date={D3}"))


def test_airflow_logs_warehouse_and_validation_docs_hold_no_raw_pii(deployment, tmp_path):
    """Issue G, the Airflow side of tests/test_pii_scan.py: after every run of this module (a
    date, its rerun with a killed and retried publish, a failing date), Airflow's log folders
    (task, DAG-processor and `airflow dags test` logs), its metadata database (XComs, rendered
    fields), the warehouse and its validation results and Data Docs hold no raw email, phone
    number or full name of the landed data, no unkeyed digest of one, and not the PII key.
    `quarantine` (restricted: it keeps raw lines) is left out."""
    from jobs.normalize.pii import PiiKey
    from test_pii_scan import Catalog, assert_clean, restricted_tables, scan_log, scan_tree

    root, config, airflow, runs = deployment
    ipad, opad = PiiKey(E2E_KEY.encode()).pads()
    catalog = Catalog.from_landing(root / "landing", {E2E_KEY: "the PII key", ipad.hex(): "the key's inner pad",
                                                      opad.hex(): "the key's outer pad"})
    assert len(catalog.emails) > 30 and len(catalog.phones) > 30
    findings, files, lines = [], 0, 0
    log_dirs = [root / "logs", root / "airflow" / "logs"]  # `airflow ...` output; AIRFLOW_HOME/logs
    for folder in log_dirs:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            text = path.read_text(errors="replace")
            files += 1
            lines += text.count("\n") + 1
            findings += scan_log(text, catalog, str(path.relative_to(root)))
    assert "journeys step publish for 2026-01-05" in (root / "logs" / f"dags-test-{D1}.log").read_text()
    # the metadata DB with its write-ahead log (recent writes live there until a checkpoint)
    db = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted((root / "airflow").glob("airflow.db*")))
    findings += catalog.scan(db, "airflow.db")
    warehouse = scan_tree(root / "warehouse", catalog, exclude=tuple(restricted_tables()), label="warehouse")
    print(f"\nAirflow scan: {files} log files, {lines} log lines, the metadata DB ({len(db) // 1024} KiB), "
          f"warehouse {warehouse.summary()}; searched for {catalog.size}")
    assert_clean(findings + warehouse.findings, f"the Airflow deployment under {root}")
    assert files >= 4 and lines > 300
    assert warehouse.files.get("parquet", 0) > 10 and warehouse.files.get(".html", 0) > 10
    assert (root / "warehouse" / "_validation" / "data_docs" / "index.html").exists()
    # the scan can fail: a copy of a task log with one raw email and the key in it
    planted = tmp_path / "task.log"
    email = sorted(catalog.emails)[0]
    planted.write_text((root / "logs" / f"dags-test-{D1}.log").read_text()
                       + f"\nINFO - customer {email.upper()} key {E2E_KEY}\n")
    kinds = {f.kind for f in scan_log(planted.read_text(), catalog, "planted")}
    assert {"email", "secret"} <= kinds, kinds
