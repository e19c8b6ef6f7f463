"""Decide every row's fate: written out, quarantined, or counted as a duplicate.

Each row gets exactly one `_outcome`, which is what makes the reconciliation
rows_in = rows_out + rows_quarantined + rows_duplicate hold by construction (and
the pipeline still checks it).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.contracts import table_contract
from jobs.normalize.parse import PROBLEM

OUTCOME = "_outcome"
OUT, QUARANTINED, DUPLICATE = "out", "quarantined", "duplicate"
RAW_RECORD_LIMIT = 65536


def classify_events(events: DataFrame, history_ids: DataFrame | None) -> DataFrame:
    """Keep the earliest received copy of each event_id (ties: file, then line); a copy
    already published by an earlier arrival makes every copy here a duplicate."""
    ok = F.col(PROBLEM).isNull()
    first = Window.partitionBy("event_id").orderBy(
        ok.desc(), F.col("received_at").asc_nulls_last(), "source_file", "source_line")
    df = events.withColumn("_copy", F.row_number().over(first))
    if history_ids is not None:
        seen = history_ids.select("event_id").distinct().withColumn("_seen", F.lit(True))  # no fan-out
        df = df.join(seen, on="event_id", how="left")
    else:
        df = df.withColumn("_seen", F.lit(None).cast("boolean"))
    outcome = (
        F.when(~ok, QUARANTINED)
        .when((F.col("_copy") > 1) | F.col("_seen").eqNullSafe(True), DUPLICATE)
        .otherwise(OUT)
    )
    return df.withColumn(OUTCOME, outcome).drop("_copy", "_seen")


def classify_latest(records: DataFrame, key: str, version: str) -> DataFrame:
    """State records (CRM customers): per key the latest version wins (ties: last file and line)."""
    ok = F.col(PROBLEM).isNull()
    latest = Window.partitionBy(key).orderBy(
        ok.desc(), F.col(version).desc_nulls_last(), F.col("source_file").desc(), F.col("source_line").desc())
    df = records.withColumn("_copy", F.row_number().over(latest))
    outcome = F.when(~ok, QUARANTINED).when(F.col("_copy") > 1, DUPLICATE).otherwise(OUT)
    return df.withColumn(OUTCOME, outcome).drop("_copy")


def accepted(classified: DataFrame, table: str) -> DataFrame:
    return classified.where(F.col(OUTCOME) == OUT).select(*table_contract(table).column_names)


def quarantined(classified: DataFrame, source: str, arrival_date) -> DataFrame:
    """Quarantine rows; raw text is made valid UTF-8 and cut so the table stays readable."""
    raw = F.make_valid_utf8(F.col("value"))
    raw = F.regexp_replace(raw, "\u0000", "\\\\0")
    rows = classified.where(F.col(OUTCOME) == QUARANTINED).select(
        F.sha2(F.concat_ws("|", F.lit(source), "source_file", F.col("source_line").cast("string")), 256)
        .alias("quarantine_id"),
        "source_file", "source_line",
        F.col(f"{PROBLEM}.code").alias("reason_code"),
        F.col(f"{PROBLEM}.detail").alias("reason_detail"),
        F.substring(raw, 1, RAW_RECORD_LIMIT).alias("raw_record"),
        F.col("raw_bytes").cast("long").alias("raw_bytes"),
        F.lit(arrival_date).alias("arrival_date"),
        F.lit(source).alias("source"),
    )
    return rows.select(*table_contract("quarantine").column_names)


def outcome_counts(classified: DataFrame) -> DataFrame:
    """Rows per outcome and reason; accepted events older than their arrival count as late."""
    late = (F.col("event_date") < F.col("arrival_date")) if "event_date" in classified.columns else F.lit(False)
    return classified.groupBy(OUTCOME, F.col(f"{PROBLEM}.code").alias("reason_code"),
                              F.coalesce(late, F.lit(False)).alias("is_late")).count()
