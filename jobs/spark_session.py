"""The one place a SparkSession is configured."""
from __future__ import annotations

import os

from pyspark.sql import SparkSession

from jobs.config import Config
from jobs.jvm import java_options

# Settings correctness depends on: UTC everywhere, exact map semantics, readable Parquet.
_FIXED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.sql.ansi.enabled": "true",
}


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
