"""The one place a SparkSession is configured."""
from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.config import Config

# Settings correctness depends on: UTC everywhere, exact map semantics, readable Parquet.
_FIXED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.sql.ansi.enabled": "true",
}


def java_options(config: Config, driver: bool) -> str:
    """The JVM options of a driver or executor: the project's own, then the config's `jvm_options`
    (for -XX flags the last one given wins)."""
    # Whole-stage code of a wide select (a contract's columns and checks) easily exceeds
    # the JVM's 8,000-byte limit for JIT-compiling a method, and then runs interpreted:
    # measured, parsing the collector's JSON took twice as long without this flag.
    own = ["-XX:-DontCompileHugeMethods"]
    if driver:
        own.insert(0, f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties').as_uri()}")
    return " ".join([*own, config.spark.jvm_options]).strip()


def get_spark(config: Config) -> SparkSession:
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    if config.spark.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(config.spark.app_name)
    if not os.environ.get("SPARK_SUBMITTED"):  # spark-submit decides the master itself
        builder = builder.master(config.spark.master)
    conf = {
        "spark.driver.extraJavaOptions": java_options(config, driver=True),
        "spark.executor.extraJavaOptions": java_options(config, driver=False),
        "spark.sql.shuffle.partitions": str(config.spark.shuffle_partitions),
        "spark.driver.memory": config.spark.driver_memory,
        "spark.ui.showConsoleProgress": "false",
        **config.spark.conf,
        **_FIXED,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
