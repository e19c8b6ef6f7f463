"""The DAG parses cleanly and fast, follows the team's policy, and wires the steps in order.

Airflow is loaded in a subprocess with its own AIRFLOW_HOME, the way the scheduler's DAG
processor loads it, so the test session's environment never leaks into Airflow's config.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
SPARK_STEPS = ("normalize", "build", "validate", "publish")
HEAVY = ("pyspark", "great_expectations", "pandas", "sqlalchemy.dialects.postgresql", "jobs.storage",
         "jobs.pipeline", "jobs.extract")

PROBE = r"""
import json, sys, time
from pathlib import Path
from datetime import datetime, timezone
import airflow.sdk  # the processor has Airflow loaded before it parses a file
from airflow.dag_processing.dagbag import BundleDagBag
before = set(sys.modules)
t0 = time.perf_counter()
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name="test")
parse_wall = time.perf_counter() - t0
out = {"import_errors": bag.import_errors, "warnings": {k: list(v) for k, v in bag.captured_warnings.items()},
       "stats": [{"file": s.file, "seconds": s.duration.total_seconds(), "dags": s.dag_num} for s in bag.dagbag_stats],
       "parse_wall": parse_wall, "dags": sorted(bag.dags),
       "loaded": sorted(m for m in set(sys.modules) - before
                        if m.split(".")[0] in ("pyspark", "great_expectations", "pandas", "jobs")
                        or m.startswith("sqlalchemy.dialects.postgresql"))}
dag = bag.dags.get("journeys_nightly")
if dag is not None:
    tt = dag.timetable
    out["dag"] = {"max_active_runs": dag.max_active_runs, "catchup": dag.catchup, "tags": sorted(dag.tags),
                  "doc_md": dag.doc_md or "", "owner": dag.owner, "timetable": type(tt).__name__,
                  "cron": getattr(tt, "_expression", None) or getattr(tt, "expression", None),
                  "timezone": str(getattr(tt, "_timezone", None) or getattr(tt, "timezone", None)),
                  "params": sorted(dag.params.keys()), "schedule_interval": hasattr(dag, "schedule_interval")}
    out["tasks"] = {t.task_id: {
        "upstream": sorted(t.upstream_task_ids), "retries": t.retries, "owner": t.owner,
        "backoff": t.retry_exponential_backoff, "max_retry_delay": str(t.max_retry_delay),
        "type": [c.__module__ + "." + c.__name__ for c in type(t).__mro__],
        "conn_id": getattr(t, "_conn_id", None), "application": getattr(t, "application", None),
        "application_args": [str(a) for a in (getattr(t, "application_args", None) or [])],
        "outlets": sorted(a.name for a in t.outlets)} for t in dag.tasks}
    from journeys_tasks import arrival_date
    from airflow.sdk.exceptions import AirflowFailException
    import pendulum
    class Run:
        run_after = pendulum.datetime(2026, 3, 9, 7, 30, tz="UTC")
    cases = {
        # the scheduled run at 02:00 Chicago time on Jan 6 is 08:00 UTC: it processes Jan 5
        "chicago_cron": str(arrival_date({"logical_date": pendulum.datetime(2026, 1, 6, 8, 0, tz="UTC"),
                                          "dag_run": Run(), "params": {}}, "America/Chicago")),
        # 2026-01-06T00:30 UTC is still Jan 5 in Chicago
        "chicago_after_midnight_utc": str(arrival_date({"logical_date": pendulum.datetime(2026, 1, 6, 0, 30, tz="UTC"),
                                                         "dag_run": Run(), "params": {}}, "America/Chicago")),
        "utc": str(arrival_date({"logical_date": pendulum.datetime(2026, 1, 6, tz="UTC"), "dag_run": Run(),
                                 "params": {}}, "UTC")),
        "no_logical_date": str(arrival_date({"logical_date": None, "dag_run": Run(), "params": {}}, "UTC")),
        "param": str(arrival_date({"logical_date": pendulum.datetime(2026, 1, 6, tz="UTC"), "dag_run": Run(),
                                   "params": {"arrival_date": "2025-12-31"}}, "UTC")),
    }
    try:
        arrival_date({"logical_date": None, "dag_run": Run(), "params": {"arrival_date": "31/12/2025"}}, "UTC")
        cases["bad_param"] = "accepted"
    except AirflowFailException as exc:
        cases["bad_param"] = str(exc)
    out["dates"] = cases
import os
os.environ["JOURNEYS_TIMEZONE"] = "Mars/Olympus_Mons"
broken = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name="test")
out["bad_timezone_errors"] = broken.import_errors
print("PROBE" + json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "AIRFLOW"))}
    env = {**clean, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "JOURNEYS_TIMEZONE": "America/Chicago"}
    done = subprocess.run([sys.executable, "-c", PROBE, str(DAGS)], env=env, capture_output=True, text=True,
                          timeout=120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("PROBE")), None)
    assert done.returncode == 0 and line, f"probe failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(line[len("PROBE"):])


def test_dagbag_imports_without_errors_or_warnings(probe):
    assert probe["import_errors"] == {}
    assert probe["warnings"] == {}
    assert probe["dags"] == ["journeys_nightly"]
    # helper modules are listed in .airflowignore: imported by the DAG, never parsed as DAG files
    assert [s["file"] for s in probe["stats"]] == ["journeys_nightly.py"]


def test_parse_time_is_under_two_seconds(probe):
    (stat,) = probe["stats"]
    assert stat["seconds"] < 2.0, stat
    assert probe["parse_wall"] < 2.0, probe["parse_wall"]


def test_parsing_loads_no_spark_gx_or_pipeline_code(probe):
    assert not [m for m in probe["loaded"] if m.split(".")[0] in ("pyspark", "great_expectations", "pandas")]
    assert not [m for m in probe["loaded"] if m.startswith(HEAVY)], probe["loaded"]


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_no_top_level_heavy_imports(path):
    """Only stdlib, pendulum, Airflow and sibling DAG modules at module level; the rest inside tasks."""
    tree = ast.parse(path.read_text())
    allowed = {"__future__", "os", "re", "sys", "dataclasses", "datetime", "pendulum", "airflow", "journeys_assets",
               "journeys_tasks"}
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in allowed, f"{path.name}:{node.lineno} imports {name} at module level"
    assert "schedule_interval" not in path.read_text()
    assert "airflow.models" not in path.read_text()


def test_policy_owner_retries_tags_docs(probe):
    dag = probe["dag"]
    assert dag["max_active_runs"] == 1  # identity state is sequential
    assert dag["catchup"] is True
    assert {"journeys", "spark", "great-expectations", "nightly"} <= set(dag["tags"])
    assert "one arrival date" in dag["doc_md"] and "backfill" in dag["doc_md"]
    assert dag["owner"] == "data-engineering"
    assert dag["timetable"] == "CronTriggerTimetable" and dag["cron"] == "0 2 * * *"
    assert dag["timezone"] == "America/Chicago"  # from JOURNEYS_TIMEZONE
    assert dag["params"] == ["arrival_date", "force_extract"]
    for task_id, t in probe["tasks"].items():
        assert t["owner"] == "data-engineering", task_id
        assert t["retries"] >= 1, task_id
        assert t["backoff"] and t["backoff"] > 1, task_id
        assert t["max_retry_delay"] != "None", task_id


def test_structure_extract_then_spark_steps_in_order(probe):
    tasks = probe["tasks"]
    up = {task_id: set(t["upstream"]) for task_id, t in tasks.items()}
    extracts = {f"extract_{s}" for s in SOURCES}
    assert set(up) == {"choose_date", *extracts, *SPARK_STEPS, "report"}
    assert up["choose_date"] == set()
    for e in extracts:
        assert up[e] == {"choose_date"}
    assert up["normalize"] == extracts | {"choose_date"}
    for before, after in zip(SPARK_STEPS, SPARK_STEPS[1:]):
        assert up[after] == {before, "choose_date"}  # choose_date: the date comes in as an XCom
    assert up["report"] == {"publish", "choose_date"}


def test_spark_steps_use_spark_submit_with_the_connection(probe):
    for step in SPARK_STEPS:
        t = probe["tasks"][step]
        assert ("airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator" in t["type"]), step
        assert t["conn_id"] == "spark_default"
        assert t["application"] == str(ROOT / "jobs" / "steps.py")
        args = t["application_args"]
        assert args[0] == step and args[1] == "--config" and args[2] == str(ROOT / "config" / "journeys.yaml")
        assert args[3] == "--date" and "choose_date" in args[4]  # resolved from the XCom at run time


def test_publish_declares_an_asset_per_output_table(probe):
    outlets = probe["tasks"]["publish"]["outlets"]
    assert outlets == sorted(f"journeys.{t}" for t in ("events", "quarantine", "crm_customers", "identity_map",
                                                         "customers", "journey_events", "journeys", "pipeline_runs"))
    assert all(not probe["tasks"][s]["outlets"] for s in ("normalize", "build", "validate"))


def test_each_run_processes_the_day_before_it_in_the_schedule_zone(probe):
    d = probe["dates"]
    assert d["chicago_cron"] == "2026-01-05"
    assert d["chicago_after_midnight_utc"] == "2026-01-04"
    assert d["utc"] == "2026-01-05"
    assert d["no_logical_date"] == "2026-03-08"  # a manual run without logical date: the day before run_after
    assert d["param"] == "2025-12-31"
    assert "params.arrival_date must be YYYY-MM-DD" in d["bad_param"]


def test_a_bad_setting_is_an_import_error_naming_the_variable(probe):
    (error,) = probe["bad_timezone_errors"].values()
    assert "JOURNEYS_TIMEZONE: unknown time zone 'Mars/Olympus_Mons'" in error
