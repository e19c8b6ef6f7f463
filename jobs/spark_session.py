"""The one place a SparkSession is configured."""
from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from typing import TypeVar

from pyspark.sql import SparkSession

from jobs.config import Config
from jobs.jvm import java_options
from jobs.jvm_names import remember_jvm_names

T = TypeVar("T")

# Settings correctness depends on: UTC everywhere, exact map semantics, readable Parquet.
_FIXED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.sql.ansi.enabled": "true",
}


def session_conf(config: Config) -> dict[str, str]:
    """Every setting a session starts with: the project's, then the config's `spark.conf`, then
    the fixed ones correctness depends on."""
    return {
        "spark.driver.extraJavaOptions": java_options(config, driver=True),
        "spark.executor.extraJavaOptions": java_options(config, driver=False),
        "spark.sql.shuffle.partitions": str(config.spark.shuffle_partitions),
        # Files are read in as many pieces as shuffles make. With the default (one per core) a
        # 2-core night packed the three largest gzip files into one task, which parsed 750k lines
        # while the other core finished its 320k and waited (1M night: normalize 140 s -> 123 s).
        "spark.sql.files.minPartitionNum": str(config.spark.shuffle_partitions),
        # Adaptive coalescing otherwise aims at one partition per core, and on 2 cores made 3
        # partitions of the 1M night's large shuffles: two cores, then one core alone for the
        # third. Small shuffles still coalesce (down to 1 MB partitions).
        "spark.sql.adaptive.coalescePartitions.minPartitionNum": str(config.spark.shuffle_partitions),
        "spark.driver.memory": config.spark.driver_memory,
        "spark.ui.showConsoleProgress": "false",
        # PySpark otherwise records the Python call site of every column function it is given
        # (five more round trips to the JVM each, for the `DataFrame` context of an error
        # message): a tiny night's normalize made 38,752 JVM calls instead of 15,012, and every
        # step of a tiny date ran 8-17% longer (docs/performance.md). `spark.conf` can turn it on.
        "spark.python.sql.dataFrameDebugging.enabled": "false",
        # The UI keeps every query's plan and metrics, 1,000 queries by default: in one session
        # running night after night (`journeys run` over dates, bench/history.py) the driver's
        # heap after a full GC had grown to 656 MB by the ninth night of 500 customers, about
        # twice what it held with a bounded UI. A step's UI still shows its latest 200 queries.
        "spark.sql.ui.retainedExecutions": "200",
        "spark.ui.retainedJobs": "200",
        "spark.ui.retainedStages": "200",
        "spark.ui.retainedTasks": "20000",
        **config.spark.conf,
        **_FIXED,
    }


def get_spark(config: Config) -> SparkSession:
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    if config.spark.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(config.spark.app_name)
    if not os.environ.get("SPARK_SUBMITTED"):  # spark-submit decides the master itself
        builder = builder.master(config.spark.master)
    conf = session_conf(config)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    remember_jvm_names(spark.sparkContext._jvm)
    return spark


def releases_dropped_frames(step: Callable[..., T]) -> Callable[..., T]:
    """A step that, once it returns, frees the JVM side of every DataFrame it let go of.

    py4j releases a JVM object only when its Python proxy dies, and Great Expectations keeps the
    frames it validated in reference cycles, which live until Python's rare full collection.
    Each such frame pins its query plans in the driver and, through them, the broadcast hash
    tables they built (32 MB pages): a 2,000-customer history run in one session went into
    full-GC thrash on its eighth night. A full collection costs well under a second a step."""
    @functools.wraps(step)
    def run(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        finally:
            gc.collect()
    return run
