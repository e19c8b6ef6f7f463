"""Decide every row's fate: written out, quarantined, or counted as a duplicate.

Each row gets exactly one `_outcome`, which is what makes the reconciliation
rows_in = rows_out + rows_quarantined + rows_duplicate + rows_bot hold by construction
(and the pipeline still checks it).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.contracts import table_contract
from jobs.normalize.parse import PROBLEM

OUTCOME = "_outcome"
OUT, QUARANTINED, DUPLICATE, BOT = "out", "quarantined", "duplicate", "bot"
RAW_RECORD_LIMIT = 65536


def repeated_copies(events: DataFrame, history_ids: DataFrame | None) -> DataFrame:
    """(source_file, source_line) of the readable rows that are not their event_id's earliest
    received copy (ties: file, then line), or whose event_id an earlier arrival published.

    Ranked on a narrow frame (id, validity, received_at, file, line): the rows themselves, raw
    line included, are never shuffled by event_id."""
    narrow = events.select("event_id", F.col(PROBLEM).isNull().alias("_ok"), "received_at",
                           "source_file", "source_line")
    first = Window.partitionBy("event_id").orderBy(
        F.col("_ok").desc(), F.col("received_at").asc_nulls_last(), "source_file", "source_line")
    ranked = narrow.withColumn("_copy", F.row_number().over(first))
    repeat = F.col("_copy") > 1
    if history_ids is not None:
        seen = history_ids.select("event_id").distinct().withColumn("_seen", F.lit(True))  # no fan-out
        ranked = ranked.join(seen, on="event_id", how="left")
        repeat = repeat | F.col("_seen").eqNullSafe(True)
    return ranked.where(F.col("_ok") & repeat).select("source_file", "source_line")


def classify_events(events: DataFrame, repeats: DataFrame, broadcast: bool = False) -> DataFrame:
    """Readable rows listed in `repeats` (see `repeated_copies`) are duplicates. `broadcast`:
    the repeats are few enough to send to every task (a day's duplicates usually are), so the
    day's rows are not shuffled to meet them."""
    line = ["source_file", "source_line"]
    marks = repeats.select(*line, F.lit(True).alias("_repeat"))
    df = events.join(F.broadcast(marks) if broadcast else marks, on=line, how="left")
    outcome = (
        F.when(F.col(PROBLEM).isNotNull(), QUARANTINED)
        .when(F.col("_repeat").eqNullSafe(True), DUPLICATE)
        .otherwise(OUT)
    )
    return df.withColumn(OUTCOME, outcome).drop("_repeat")


def classify_latest(records: DataFrame, key: str, version: str) -> DataFrame:
    """State records (CRM customers): per key the latest version wins (ties: last file and line)."""
    ok = F.col(PROBLEM).isNull()
    latest = Window.partitionBy(key).orderBy(
        ok.desc(), F.col(version).desc_nulls_last(), F.col("source_file").desc(), F.col("source_line").desc())
    df = records.withColumn("_copy", F.row_number().over(latest))
    outcome = F.when(~ok, QUARANTINED).when(F.col("_copy") > 1, DUPLICATE).otherwise(OUT)
    return df.withColumn(OUTCOME, outcome).drop("_copy")


def heavy_ids(classified: DataFrame, id_columns: list[str], max_events_per_day: int) -> DataFrame:
    """(`_id_type`, `_id`, `event_date`, `_n`) of every id with more than `max_events_per_day`
    accepted events on one event date: a handful of rows, found with an aggregate, whose partial
    counts spread a hot key. mark_bots reads it once per id column: the caller caches it, and
    drops it with the rest of its caches (cached here, it outlived every night of a long session)."""
    out = F.col(OUTCOME) == OUT
    heavy = None
    for col in id_columns:
        counts = (classified.where(out & F.col(col).isNotNull())
                  .groupBy(F.col(col).alias("_id"), "event_date").count()
                  .where(F.col("count") > max_events_per_day)
                  .select(F.lit(col).alias("_id_type"), "_id", "event_date", F.col("count").alias("_n")))
        heavy = counts if heavy is None else heavy.unionByName(counts)
    return heavy


def mark_bots(classified: DataFrame, heavy: DataFrame, id_columns: list[str]) -> DataFrame:
    """Accepted events of an id in `heavy` (heavy_ids) become bot rows (`_bot_id_type`,
    `_bot_id`, `_bot_events`; the first listed id column that trips wins). `heavy` is joined
    back by broadcast: no window and no shuffle ever holds one bot's rows in one task."""
    out = F.col(OUTCOME) == OUT
    df = classified
    for i, col in enumerate(id_columns):
        hits = heavy.where(F.col("_id_type") == col).select(
            F.col("_id").alias(f"_b{i}"), F.col("event_date").alias(f"_d{i}"), F.col("_n").alias(f"_n{i}"))
        df = df.join(F.broadcast(hits), (F.col(col) == F.col(f"_b{i}")) & (F.col("event_date") == F.col(f"_d{i}"))
                     & out, "left")
    first = lambda f: F.coalesce(*[f(i, c) for i, c in enumerate(id_columns)])  # noqa: E731
    df = (df.withColumn("_bot_id_type", first(lambda i, c: F.when(F.col(f"_b{i}").isNotNull(), F.lit(c))))
            .withColumn("_bot_id", first(lambda i, c: F.col(f"_b{i}")))
            .withColumn("_bot_events", first(lambda i, c: F.col(f"_n{i}")))
            .withColumn(OUTCOME, F.when(F.col("_bot_id").isNotNull(), F.lit(BOT)).otherwise(F.col(OUTCOME))))
    return df.drop(*[f"_{k}{i}" for i in range(len(id_columns)) for k in "bdn"])


def raw_only_where_quarantined(classified: DataFrame) -> DataFrame:
    """The raw line is kept for the quarantine table alone: nulled on every other row before the
    classified rows are cached, it stops costing memory (most of a row's bytes) where it is not read."""
    return classified.withColumn("value", F.when(F.col(OUTCOME) == QUARANTINED, F.col("value")))


def bots(classified: DataFrame) -> DataFrame:
    return classified.where(F.col(OUTCOME) == BOT).select(
        *[F.col(f"_{c}").alias(c) if c.startswith("bot_") else c for c in table_contract("bots").column_names])


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
