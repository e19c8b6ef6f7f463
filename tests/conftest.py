"""One Spark session for the whole test run (starting Spark is the slow part)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.config import load_config

os.environ.setdefault("JOURNEYS_PII_KEY", "test-key-0123456789abcdef")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def base_config():
    return load_config(ROOT / "config" / "journeys.yaml").with_overrides(
        spark={"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g"})


@pytest.fixture(scope="session")
def spark(base_config):
    from jobs.spark_session import get_spark

    session = get_spark(base_config)
    yield session
    session.stop()
