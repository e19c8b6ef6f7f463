"""The one place a SparkSession is configured."""
from __future__ import annotations

import os

from pyspark.sql import SparkSession

from jobs.config import Config
from jobs.jvm import java_options
from jobs.jvm_names import remember_jvm_names

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
