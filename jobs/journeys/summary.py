"""Journey summaries that fold: summary(before ++ after) = combine(summary(before), after).

A *partial* is one journey's summary over a prefix of its events. The nightly run keeps
each customer's last partial from before the reprocessing window (the cursor), so a
journey that started weeks ago is completed from the cursor and the window's events
without reading its old events again. Every field is a count, a min/max, a set or the
closed-funnel state machine, which is what makes the fold exact.
"""
from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


TOUCH = ["channel", "touchpoint", "device_type", "utm_source", "utm_campaign"]
PARTIAL_COLUMNS = ["customer_key", "journey_id", "started_at", "first_event_id", "first_touch", "last_event_at",
                   "last_touch", "last_is_goal", "last_stage", "n_events", "channels", "session_ids",
                   "stage_first_at", "closed_level", "closed_at", "n_error_events", "converted_at"]
PARTIAL_SCHEMA = (
    "customer_key string, journey_id string, started_at timestamp, first_event_id string, "
    "first_touch struct<channel:string,touchpoint:string,device_type:string,utm_source:string,utm_campaign:string>, "
    "last_event_at timestamp, last_touch struct<channel:string,touchpoint:string>, last_is_goal boolean, "
    "last_stage string, n_events long, channels array<string>, session_ids array<string>, "
    "stage_first_at map<string,timestamp>, closed_level int, closed_at map<string,timestamp>, "
    "n_error_events long, converted_at timestamp")
SESSION_SCHEMA = "customer_key string, channel string, session_id string, last_event_at timestamp"


def summarize(rows: DataFrame, cursor: DataFrame) -> DataFrame:
    """Partials of every journey that has rows; a journey continuing the cursor's starts from it.
    rows: journey_events-like rows with customer_key, journey_id, _ord, event_at, event_id,
    the TOUCH columns, session_id, stage, stage_order, is_conversion, is_error."""
    staged = F.when(F.col("stage").isNotNull(), F.struct("stage", "event_at"))
    agg = rows.groupBy("customer_key", "journey_id").agg(
        F.min("event_at").alias("w_started_at"),
        F.min_by("event_id", "_ord").alias("w_first_event_id"),
        F.min_by(F.struct(*TOUCH), "_ord").alias("w_first_touch"),
        F.max("event_at").alias("w_last_at"),
        F.max_by(F.struct("channel", "touchpoint"), "_ord").alias("w_last_touch"),
        F.max_by("is_conversion", "_ord").alias("w_last_is_goal"),
        F.max_by("stage", F.when(F.col("stage").isNotNull(), F.col("_ord"))).alias("w_last_stage"),
        F.count("*").cast("long").alias("w_n"),
        F.collect_set("channel").alias("w_channels"),
        F.collect_set("session_id").alias("w_sessions"),
        F.collect_list(staged).alias("w_staged"),
        F.collect_list(F.when(F.col("stage_order").isNotNull(),
                              F.struct("_ord", "stage_order", "stage", "event_at"))).alias("w_steps"),
        F.sum(F.col("is_error").cast("long")).alias("w_errors"),
        F.max(F.when(F.col("is_conversion"), F.col("event_at"))).alias("w_converted_at"),
    )
    c = cursor.select(*[F.col(n).alias(f"c_{n}") for n in PARTIAL_COLUMNS])
    df = agg.join(c, (agg["customer_key"] == c["c_customer_key"]) & (agg["journey_id"] == c["c_journey_id"]), "left")
    cont = F.col("c_journey_id").isNotNull()
    # the earliest instant per stage: sorted descending, so the map's last-wins keeps the earliest
    w_first = F.map_from_entries(F.reverse(F.array_sort("w_staged")))
    stage_first = F.when(cont, F.map_zip_with("c_stage_first_at", w_first, lambda k, a, b: F.least(a, b))) \
        .otherwise(w_first)
    closed = F.aggregate(
        F.array_sort("w_steps"),
        F.struct(F.coalesce(F.when(cont, F.col("c_closed_level")), F.lit(0)).alias("level"),
                 F.coalesce(F.when(cont, F.col("c_closed_at")),
                            F.create_map().cast("map<string,timestamp>")).alias("at")),
        lambda acc, x: F.when(x["stage_order"] == acc["level"] + 1,
                              F.struct((acc["level"] + 1).alias("level"),
                                       F.map_concat(acc["at"], F.create_map(x["stage"], x["event_at"])).alias("at")))
        .otherwise(acc))
    return df.select(
        F.col("customer_key"), F.col("journey_id"),
        F.when(cont, F.col("c_started_at")).otherwise(F.col("w_started_at")).alias("started_at"),
        F.when(cont, F.col("c_first_event_id")).otherwise(F.col("w_first_event_id")).alias("first_event_id"),
        F.when(cont, F.col("c_first_touch")).otherwise(F.col("w_first_touch")).alias("first_touch"),
        F.col("w_last_at").alias("last_event_at"),
        F.col("w_last_touch").alias("last_touch"),
        F.col("w_last_is_goal").alias("last_is_goal"),
        F.coalesce(F.col("w_last_stage"), F.when(cont, F.col("c_last_stage"))).alias("last_stage"),
        (F.col("w_n") + F.when(cont, F.col("c_n_events")).otherwise(F.lit(0))).cast("long").alias("n_events"),
        F.array_sort(F.array_distinct(F.concat(F.when(cont, F.col("c_channels")).otherwise(F.array()),
                                               F.col("w_channels")))).alias("channels"),
        F.array_sort(F.array_distinct(F.concat(F.when(cont, F.col("c_session_ids")).otherwise(F.array()),
                                               F.col("w_sessions")))).alias("session_ids"),
        stage_first.alias("stage_first_at"),
        closed["level"].cast("int").alias("closed_level"),
        closed["at"].alias("closed_at"),
        (F.col("w_errors") + F.when(cont, F.col("c_n_error_events")).otherwise(F.lit(0))).cast("long")
        .alias("n_error_events"),
        F.coalesce("w_converted_at", F.when(cont, F.col("c_converted_at"))).alias("converted_at"),
    )


def last_per_customer(partials: DataFrame) -> DataFrame:
    w = Window.partitionBy("customer_key").orderBy(F.col("last_event_at").desc(), F.col("journey_id").desc())
    return partials.withColumn("_r", F.row_number().over(w)).where("_r = 1").drop("_r")


def advance_cursor(cursor: DataFrame, sessions: DataFrame, rows: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Cursor and session state after `rows` (journey_events rows of the dates leaving the window)."""
    latest = last_per_customer(summarize(rows, cursor)).select(*PARTIAL_COLUMNS)
    kept = cursor.join(latest.select("customer_key"), "customer_key", "left_anti").select(*PARTIAL_COLUMNS)
    new_sessions = rows.groupBy("customer_key", "channel").agg(
        F.max_by("session_id", "_ord").alias("session_id"), F.max("event_at").alias("last_event_at"))
    kept_s = sessions.join(new_sessions.select("customer_key", "channel"), ["customer_key", "channel"], "left_anti")
    return latest.unionByName(kept), new_sessions.unionByName(kept_s.select(*new_sessions.columns))


def finalize(partials: DataFrame, stages: list[str], as_of: datetime, timeout_days: int,
             reporting_timezone: str) -> DataFrame:
    """journeys rows (without the CRM breakdown columns) from partials, with status as of `as_of`."""
    stage_list = F.array(*[F.lit(x) for x in stages])
    reached = F.filter(stage_list, lambda x: F.map_contains_key(F.col("stage_first_at"), x))
    reached_closed = F.filter(stage_list, lambda x: F.map_contains_key(F.col("closed_at"), x))
    expired = (F.lit(as_of).cast("timestamp") >= F.col("last_event_at") + F.expr(f"INTERVAL {timeout_days} DAYS"))
    status = (F.when(F.col("converted_at").isNotNull(), "converted").when(expired, "dropped").otherwise("open"))
    furthest = F.try_element_at(reached, F.lit(-1))
    order = F.array_position(stage_list, furthest).cast("int")
    return partials.select(
        "journey_id", "customer_key", status.alias("status"),
        "started_at", F.col("last_event_at").alias("ended_at"), "converted_at",
        (F.unix_micros("last_event_at") - F.unix_micros("started_at")).cast("double").__truediv__(1e6)
        .alias("duration_seconds"),
        "n_events", F.size("session_ids").cast("long").alias("n_sessions"), "channels",
        F.col("first_touch.channel").alias("first_touch_channel"),
        F.col("first_touch.touchpoint").alias("first_touch_touchpoint"),
        F.col("first_touch.device_type").alias("first_touch_device"),
        F.col("first_touch.utm_source").alias("first_touch_utm_source"),
        F.col("first_touch.utm_campaign").alias("first_touch_utm_campaign"),
        F.col("last_touch.channel").alias("last_touch_channel"),
        F.col("last_touch.touchpoint").alias("last_touch_touchpoint"),
        reached.alias("stages_reached"), reached_closed.alias("stages_reached_closed"),
        furthest.alias("furthest_stage"), F.when(furthest.isNotNull(), order).alias("furthest_stage_order"),
        F.when(status == "dropped", furthest).alias("dropoff_stage"),
        _in_funnel_order(F.col("stage_first_at"), reached).alias("stage_reached_at"),
        _in_funnel_order(F.col("closed_at"), reached_closed).alias("closed_stage_reached_at"),
        "n_error_events", "first_event_id",
        F.to_date(F.from_utc_timestamp("started_at", reporting_timezone)).alias("journey_start_date"),
    )


def _in_funnel_order(m, stages):
    """The map rebuilt with its keys in funnel order: merged maps keep no stable key order,
    and equal tables must be equal byte for byte."""
    return F.map_from_entries(F.transform(stages, lambda x: F.struct(x.alias("key"), m[x].alias("value"))))
