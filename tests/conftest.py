"""One Spark session for the whole test run (starting Spark is the slow part)."""
from __future__ import annotations

import gc
import json
import os
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from jobs.config import load_config
from jobs.normalize.pii import PiiKey

os.environ.setdefault("JOURNEYS_PII_KEY", "test-key-0123456789abcdef")
ROOT = Path(__file__).resolve().parent.parent


# Modules that take minutes each, longest first (durations: docs/performance.md). Under
# `--dist loadfile --no-loadscope-reorder` the workers take whole modules in collection order,
# so the long ones start at once and the many short ones fill both workers at the end. xdist's
# default order (most tests first) left the long modules, which hold few tests, for last.
LONGEST_FIRST = ("test_airflow_e2e", "test_crash_safety", "test_journeys_e2e", "test_pipeline",
                 "test_cluster", "test_late_data", "test_pii_scan")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: file order otherwise


TINY_DATA_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN",
                  "spark.sql.adaptive.enabled": "false"}
# JVMs that run one step and exit (spark-submit, `python -m jobs.steps`, `journeys run`): C2 spent a
# third of such a JVM's CPU compiling and was never paid back; C1 alone ran a cold four-step date in
# 125 s against 148 s. The code cache must grow: C1-only defaults to 48 MB, and sweeping a full one
# cost more than the compiling saved. The tests' own sessions live for the whole run and keep C2:
# with C1 the suite took 28:05 against 25:37 (docs/performance.md), though one tiny date repeated
# six times in two sessions side by side had favoured C1.
SHORT_RUN_JVM = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
# the class archive scripts/setup.sh built (config/journeys.yaml names it), as an absolute path
# for the tests that copy the config's YAML elsewhere: about 6 s less per JVM start
CLASS_ARCHIVE = load_config(ROOT / "config" / "journeys.yaml").spark.class_archive


@pytest.fixture(scope="session")
def base_config():
    # Tiny frames: compiling generated code (whole-stage or per expression) and re-planning
    # adaptively cost more than they save; interpreted expressions cut a nightly build by a
    # fifth. tests/test_pipeline.py switches all three back on to run with production SQL settings.
    return load_config(ROOT / "config" / "journeys.yaml").with_overrides(
        # 3g: one session serves every module a worker runs; at 2g the fortnight's build once
        # failed to broadcast a tiny table after the worker's earlier modules
        spark={"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "3g",
               "conf": {**TINY_DATA_CONF,
                        # the UI keeps the plans and metrics of its last 1,000 queries by default;
                        # thousands of test queries only need the latest few
                        "spark.sql.ui.retainedExecutions": "50", "spark.ui.retainedJobs": "100",
                        "spark.ui.retainedStages": "100", "spark.ui.retainedTasks": "10000",
                        # one session serves every test: what Spark frees only once the JVM has
                        # collected it (shuffle files, broadcasts) should not wait 30 minutes
                        "spark.cleaner.periodicGC.interval": "1min"}})


@pytest.fixture(scope="session")
def spark(base_config):
    from jobs.spark_session import get_spark

    session = get_spark(base_config)
    yield session
    session.stop()


PRODUCTION_SQL_CONF = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK",
                       "spark.sql.adaptive.enabled": "true"}


@contextmanager
def sql_settings(spark, conf: dict):
    before = {k: spark.conf.get(k) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        yield spark
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)


@pytest.fixture(scope="module")
def production_sql(spark):
    """Run a module with the SQL settings a real run uses."""
    with sql_settings(spark, PRODUCTION_SQL_CONF):
        yield spark


SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
PIPELINE_KEY = PiiKey(b"pipeline-test-key-0123456789")


def arrival_dates(raw: Path) -> list[date]:
    return sorted({date.fromisoformat(p.name.split("=")[1]) for s in SOURCES for p in (raw / s).glob("arrival_date=*")})


@pytest.fixture(scope="session")
def pipeline_warehouse(spark, base_config, tmp_path_factory):
    """300 generated customers over 3 days: every arrival date normalized behind the raw gate
    and published, the last one through all four steps
    (`journeys run`), whose build covers every event date. Checked against the ground truth
    in tests/test_pipeline.py; the analyst-side tests (report, SQL, Thrift, PII scan, bots)
    read the tables it published, and none writes to them. Built once per test session:
    the first pytest worker that needs it builds it under a file lock, the others wait for
    it and read the same folder. Returns (config, raw folder, generator summary, run results)."""
    import fcntl
    import pickle

    # under xdist each worker's base folder sits in the session's own: that one is shared
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "pipeline_warehouse"
    with open(shared / "pipeline_warehouse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "built.pickle"
        if not done.exists():
            built = _build_pipeline_warehouse(spark, base_config, root)
            done.write_bytes(pickle.dumps(built[1:]))
        summary, results = pickle.loads(done.read_bytes())
    raw = root / "raw"
    config = base_config.with_overrides(warehouse=str(root / "warehouse"),
                                        sources={name: {"path": str(raw / name)} for name in SOURCES})
    return config, raw, summary, results


def _build_pipeline_warehouse(spark, base_config, root: Path):
    from jobs import steps
    from jobs.generator import generate
    from jobs.pipeline import normalize, run_date

    if root.exists():  # a worker died while building: start over
        import shutil
        shutil.rmtree(root)
    raw = root / "raw"
    summary = generate(raw, customers=300, days=3, seed=11)
    config = base_config.with_overrides(
        warehouse=str(root / "warehouse"),
        sources={name: {"path": str(raw / name)} for name in SOURCES})
    *earlier, last = arrival_dates(raw)
    # Built with the tests' tiny-data settings (12% faster; docs/performance.md): the production
    # SQL settings run a whole date in tests/test_cluster.py, whose tables must equal a run with
    # these, and tests/test_pipeline.py reads this warehouse with them
    results, left = [], {}
    cached_before = cached_plans(spark)
    with FramesLeftAlive() as alive:
        for day in earlier:
            results.append(normalize(spark, config, day, PIPELINE_KEY))
            left[f"{day} normalize"] = [alive(), cached_plans(spark) - cached_before]
            steps.publish_step(spark, config, day)
        results.append(run_date(spark, config, last, PIPELINE_KEY))
        left[f"{last} run_date"] = [alive(), cached_plans(spark) - cached_before]
    (root / "left_behind.json").write_text(json.dumps(left))
    return config, summary, results


def cached_plans(spark) -> int:
    """Plans in Spark's cache manager. A persisted frame stays there, whole plan and all, until it
    is unpersisted, even if it was never computed; getPersistentRDDs shows only computed ones."""
    manager = spark._jsparkSession.sharedState().cacheManager()
    field = manager.getClass().getDeclaredField("cachedData")
    field.setAccessible(True)
    return field.get(manager).size()


class FramesLeftAlive:
    """Counts the DataFrames made inside the block that are still alive. Python's automatic
    collection is off meanwhile, so a frame is gone only if the code freed it itself: one left
    in a reference cycle keeps its JVM plans (and the broadcasts they hold) until Python's rare
    full collection, which is how one session running night after night ran out of driver
    memory (jobs/spark_session.py releases_dropped_frames)."""

    def __enter__(self):
        from pyspark.sql import DataFrame

        self._is_frame = lambda o: isinstance(o, DataFrame)
        gc.collect()
        # held, so that no new frame can reuse an old one's id
        self._before = [o for o in gc.get_objects() if self._is_frame(o)]
        self._ids = {id(o) for o in self._before}
        gc.disable()
        return self

    def __call__(self) -> int:
        return sum(1 for o in gc.get_objects() if self._is_frame(o) and id(o) not in self._ids)

    def __exit__(self, *exc):
        gc.enable()
        self._before = []

