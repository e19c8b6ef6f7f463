"""One date of the pipeline on a real Spark standalone cluster equals the local-mode run.

A master and a worker start from the PySpark installation (`scripts/spark-node.sh`, what
the Spark image in docker/ runs) on 127.0.0.1. The project is built as a wheel and
installed into a folder of its own, the way a cluster image carries it; `spark-submit
--master spark://...` runs `jobs/steps.py all` from there, from a working directory
outside the checkout, with that folder as the Python path of the driver and of every
executor. A probe job first shows where executors import the package from. Every output
table must then hold exactly the rows of the same date run in local mode.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import yaml

from jobs import steps
from jobs.generator import generate
from jobs.pipeline import normalize
from tests.conftest import CLASS_ARCHIVE, PIPELINE_KEY, ROOT, SHORT_RUN_JVM, SOURCES, arrival_dates

pytestmark = pytest.mark.slow

PROBE = '''
import sys, jobs
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
def where(_):
    import jobs, os
    yield jobs.__file__ + "|" + os.getcwd()
seen = spark.sparkContext.parallelize(range(4), 4).mapPartitions(where).collect()
print("PROBE " + jobs.__file__ + " " + ";".join(sorted(set(seen))))
spark.stop()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, predicate, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                state = json.load(resp)
            if predicate(state):
                return state
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not come up in {timeout} s")


def _table_digests(warehouse: Path) -> dict[str, tuple[int, str]]:
    """Sorted-row hash per table; pipeline_runs only on what a rerun must reproduce."""
    out = {}
    for table_dir in sorted(p for p in warehouse.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        table = ds.dataset(table_dir, format="parquet", partitioning="hive").to_table()
        if table_dir.name == "pipeline_runs":
            table = table.select(["step", "source", "status", "rows_in", "rows_out", "rows_quarantined",
                                  "rows_duplicate", "rows_bot", "rows_late", "is_balanced", "files_read",
                                  "bytes_read"])
        rows = sorted(repr(sorted(r.items())) for r in table.to_pylist())
        out[table_dir.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A standalone master and one 2-core worker, stopped (process groups) at the end."""
    root = tmp_path_factory.mktemp("cluster")
    port, master_ui, worker_ui = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHON": sys.executable,
           "SPARK_LOG_DIR": str(root / "logs"), "SPARK_WORKER_DIR": str(root / "work")}
    node = str(ROOT / "scripts" / "spark-node.sh")
    url = f"spark://127.0.0.1:{port}"
    procs = []
    logs = root / "daemons.log"
    try:
        with open(logs, "ab") as out:
            procs.append(subprocess.Popen(["bash", node, "master", "127.0.0.1", str(port), str(master_ui)],
                                          env=env, stdout=out, stderr=out, start_new_session=True))
            _wait_for(f"http://127.0.0.1:{master_ui}/json/", lambda s: s.get("status") == "ALIVE")
            procs.append(subprocess.Popen(["bash", node, "worker", url, "2", "3g", str(worker_ui), str(root / "work")],
                                          env=env, stdout=out, stderr=out, start_new_session=True))
            state = _wait_for(f"http://127.0.0.1:{master_ui}/json/",
                              lambda s: any(w.get("state") == "ALIVE" for w in s.get("workers", [])))
        yield {"url": url, "ui": master_ui, "state": state, "root": root, "logs": logs}
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project as a cluster image holds it: the built wheel, installed into its own folder."""
    root = tmp_path_factory.mktemp("package")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(root / "dist"), str(ROOT)], check=True, cwd=root)
    wheel = next((root / "dist").glob("customer_journeys-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
                    "--target", str(root / "site"), str(wheel)], check=True, cwd=root)
    return root / "site"


def _submit(cluster, site: Path, cwd: Path, args: list[str], env_extra: dict | None = None):
    spark_home = Path(__import__("pyspark").__file__).parent
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARK_HOME")}
    env.update({"PYTHONPATH": str(site), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_SUBMITTED": "1", **(env_extra or {})})
    cmd = [str(spark_home / "bin" / "spark-submit"), "--master", cluster["url"], "--deploy-mode", "client",
           "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=2",
           "--conf", f"spark.executorEnv.PYTHONPATH={site}",
           "--conf", "spark.driver.host=127.0.0.1",
           "--driver-java-options", f"{SHORT_RUN_JVM} -XX:SharedArchiveFile={CLASS_ARCHIVE}", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def runs(spark, base_config, cluster, installed, tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster_run")
    landing = root / "landing"
    generate(landing, customers=60, days=2, seed=17)
    day = arrival_dates(landing)[0]

    local = base_config.with_overrides(warehouse=str(root / "wh_local"),
                                       sources={n: {"path": str(landing / n)} for n in SOURCES})
    started = time.monotonic()
    # the tables only: the cluster run's output suites are checked below, and they only read
    normalize(spark, local, day, PIPELINE_KEY)
    steps.build_step(spark, local, day)
    steps.publish_step(spark, local, day)
    local_seconds = time.monotonic() - started

    work = root / "submit"  # the driver's working directory holds nothing of the project
    work.mkdir()
    (work / "probe.py").write_text(PROBE)
    probe = _submit(cluster, installed, work, [str(work / "probe.py")])

    raw_config = yaml.safe_load((ROOT / "config" / "journeys.yaml").read_text())
    raw_config["warehouse"] = str(root / "wh_cluster")
    for name in SOURCES:
        raw_config["sources"][name]["path"] = str(landing / name)
    raw_config["spark"].update({"shuffle_partitions": 4, "driver_memory": "1g", "jvm_options": SHORT_RUN_JVM,
                                "class_archive": CLASS_ARCHIVE})
    config_file = work / "journeys.yaml"
    config_file.write_text(yaml.safe_dump(raw_config, sort_keys=False))
    started = time.monotonic()
    submitted = _submit(cluster, installed, work,
                        [str(installed / "jobs" / "steps.py"), "all", "--date", day.isoformat(),
                         "--config", str(config_file), "--json"],
                        {"JOURNEYS_PII_KEY": PIPELINE_KEY.secret.decode()})
    cluster_seconds = time.monotonic() - started
    return {"probe": probe, "submitted": submitted, "local": root / "wh_local", "remote": root / "wh_cluster",
            "local_seconds": local_seconds, "cluster_seconds": cluster_seconds, "installed": installed,
            "landing": landing, "day": day}


def test_executors_import_the_installed_package_not_the_checkout(runs):
    probe = runs["probe"]
    assert probe.returncode == 0, probe.stderr[-3000:]
    line = next(ln for ln in probe.stdout.splitlines() if ln.startswith("PROBE "))
    _, driver_file, seen = line.split(" ", 2)
    site = str(runs["installed"])
    assert driver_file.startswith(site)
    places = [s.split("|") for s in seen.split(";")]
    assert places and all(f.startswith(site) for f, _ in places)
    assert all(not cwd.startswith(str(ROOT)) for _, cwd in places)  # executors run in the worker's own folder


def test_cluster_run_matches_local_run(runs, cluster):
    submitted = runs["submitted"]
    assert submitted.returncode == 0, submitted.stderr[-4000:]
    result, _ = json.JSONDecoder().raw_decode(submitted.stdout[submitted.stdout.index("{"):])
    assert result["normalize"]["rows_in"] > 0 and all(result["validate"].values())
    local, remote = _table_digests(runs["local"]), _table_digests(runs["remote"])
    assert sorted(remote) == sorted(local) and len(local) >= 14
    assert {t: v for t, v in remote.items() if v != local[t]} == {}
    apps = _wait_for(f"http://127.0.0.1:{cluster['ui']}/json/", lambda s: True)["completedapps"]
    assert len(apps) >= 2  # the probe and the pipeline ran as applications of the cluster
    print(f"\ncluster run: {runs['cluster_seconds']:.1f} s (local mode in the test's session: "
          f"{runs['local_seconds']:.1f} s); tables compared: {len(local)}, rows: "
          f"{sum(n for n, _ in local.values()):,}")


def test_the_runs_logs_and_warehouse_hold_no_raw_pii_and_no_key(runs, cluster):
    """What a deployment keeps of a run, scanned for every email, phone and name the generator
    delivered and for the PII key: the driver's output (Python logging, progress, Spark's own
    log), every executor's stdout and stderr in the worker's folder, the master's and worker's
    logs, and the warehouse and validation pages the run wrote (restricted tables aside)."""
    from tests.test_pii_scan import Catalog, assert_clean, restricted_tables, scan_log, scan_tree

    submitted = runs["submitted"]
    assert submitted.returncode == 0, submitted.stderr[-4000:]
    secret = PIPELINE_KEY.secret.decode()
    ipad, opad = PIPELINE_KEY.pads()
    catalog = Catalog.from_landing(runs["landing"], {secret: "the PII key", ipad.hex(): "the key's inner pad",
                                                     opad.hex(): "the key's outer pad"})
    assert len(catalog.emails) > 10 and len(catalog.phones) > 10
    driver = f"{submitted.stdout}\n{submitted.stderr}"
    assert f"build {runs['day']}: identity took" in driver and "normalize clickstream:" in driver  # the run's log
    assert_clean(scan_log(driver, catalog, "driver"), "the driver's output")
    executor_logs = sorted((cluster["root"] / "work").glob("app-*/*/std*"))
    assert len({p.parent for p in executor_logs}) >= 2  # the probe's executor and the pipeline's
    assert any("Executor" in p.read_text(errors="replace") for p in executor_logs)
    for path in [*executor_logs, cluster["logs"], *sorted((cluster["root"] / "logs").glob("*"))]:
        assert_clean(scan_log(path.read_text(errors="replace"), catalog, path.name), str(path))
    report = scan_tree(runs["remote"], catalog, exclude=tuple(restricted_tables()), label="cluster-warehouse")
    print(f"\nthe cluster run's warehouse: {report.summary()}; logs scanned: driver, "
          f"{len(executor_logs)} executor files, the daemons'")
    assert_clean(report.findings, "the cluster run's warehouse")
    assert report.files.get("parquet", 0) > 10 and report.files.get(".html", 0) > 10
