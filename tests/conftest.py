"""One Spark session for the whole test run (starting Spark is the slow part)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.config import load_config

os.environ.setdefault("JOURNEYS_PII_KEY", "test-key-0123456789abcdef")
ROOT = Path(__file__).resolve().parent.parent


TINY_DATA_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN",
                  "spark.sql.adaptive.enabled": "false"}


@pytest.fixture(scope="session")
def base_config():
    # Tiny frames: compiling generated code (whole-stage or per expression) and re-planning
    # adaptively cost more than they save; interpreted expressions cut a nightly build by a
    # fifth. tests/test_pipeline.py switches all three back on to run with production settings.
    return load_config(ROOT / "config" / "journeys.yaml").with_overrides(
        spark={"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g",
               "conf": {**TINY_DATA_CONF,
                        # one session serves every test: local checkpoints of finished identity
                        # runs are released only when the JVM collects them (default: every 30 min)
                        "spark.cleaner.periodicGC.interval": "1min"}})


@pytest.fixture(scope="session")
def spark(base_config):
    from jobs.spark_session import get_spark

    session = get_spark(base_config)
    yield session
    session.stop()


PRODUCTION_SQL_CONF = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK",
                       "spark.sql.adaptive.enabled": "true"}


@pytest.fixture(scope="module")
def production_sql(spark):
    """Run a module with the SQL settings a real run uses."""
    before = {k: spark.conf.get(k) for k in PRODUCTION_SQL_CONF}
    for k, v in PRODUCTION_SQL_CONF.items():
        spark.conf.set(k, v)
    yield spark
    for k, v in before.items():
        spark.conf.set(k, v)

