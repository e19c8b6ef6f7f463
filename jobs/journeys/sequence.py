"""Events of the reprocessing window -> journey_events rows.

Each customer's events are ordered by `ORDER_KEY`; the state carried in from before the
window (`cursor` rows, see summary.py) continues the customer's last journey and each
channel's last session, so a nightly run over the window writes exactly what a rebuild
over all history writes for those dates.

Rules (docs/journeys.md):
* Session: per customer and channel; a gap longer than `session_gap` starts a new one
  (a gap equal to the cutoff continues it).
* Journey: ends with a goal event (the converting event is its last step) or when the
  next event comes `journey_timeout` or more after the previous one.
* Same instant: other events before goal events, then clickstream, crm, calls, then event_id.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.config import StageRule
from jobs.journeys.stages import INHERIT, raw_stage, stage_order

SOURCE_RANK = {"clickstream": 0, "crm": 1, "calls": 2}


@dataclass(frozen=True)
class JourneySettings:
    stages: tuple[str, ...]
    stage_rules: tuple[StageRule, ...]
    goal_event_types: tuple[str, ...]
    error_event_types: tuple[str, ...]
    session_gap_minutes: int
    journey_timeout_days: int


def short_hash(*parts: Column) -> Column:
    return F.substring(F.sha2(F.concat_ws("|", *parts), 256), 1, 32)


def order_key() -> Column:
    rank = F.lit(9)
    for source, r in SOURCE_RANK.items():
        rank = F.when(F.col("source") == source, F.lit(r)).otherwise(rank)
    return F.struct(F.col("event_at").alias("at"), F.col("is_conversion").cast("int").alias("goal"),
                    rank.alias("src"), F.col("event_id").alias("id"))


def _in_order() -> list[Column]:
    """`order_key`'s fields, for the windows to sort on: a sort on the struct itself compares
    field by field on every comparison, one on a timestamp first sorts on a binary prefix."""
    return [F.col(f"_ord.{field}") for field in ("at", "goal", "src", "id")]


def _micros(ts: Column) -> Column:
    return F.unix_micros(ts)


def sequence(events: DataFrame, cursor: DataFrame, sessions: DataFrame, s: JourneySettings) -> DataFrame:
    """events: canonical events with customer_key (all of the window). cursor: one row per
    customer with its last journey before the window; sessions: (customer_key, channel,
    session_id, last_event_at) before the window."""
    timeout = s.journey_timeout_days * 86_400_000_000
    gap = s.session_gap_minutes * 60_000_000
    df = (events
          .withColumn("is_conversion", F.col("event_type").isin(list(s.goal_event_types)))
          .withColumn("is_error", F.col("event_type").isin(list(s.error_event_types)))
          .withColumn("_stage_raw", raw_stage(list(s.stage_rules)))
          .withColumn("_ord", order_key()))
    carry = cursor.select("customer_key", F.col("journey_id").alias("_c_journey"),
                          F.col("last_event_at").alias("_c_last_at"), F.col("last_is_goal").alias("_c_goal"),
                          F.col("n_events").alias("_c_n"), F.col("last_stage").alias("_c_stage"))
    df = df.join(carry, "customer_key", "left")
    by_customer = Window.partitionBy("customer_key").orderBy(*_in_order())
    prev_at = F.coalesce(F.lag("event_at").over(by_customer), F.col("_c_last_at"))
    prev_goal = F.coalesce(F.lag("is_conversion").over(by_customer), F.col("_c_goal"))
    new_journey = (prev_at.isNull() | prev_goal
                   | ((_micros(F.col("event_at")) - _micros(prev_at)) >= F.lit(timeout)))
    df = df.withColumn("_new_j", new_journey.cast("int"))
    df = df.withColumn("_jseq", F.sum("_new_j").over(by_customer.rowsBetween(Window.unboundedPreceding, 0)))
    in_journey = Window.partitionBy("customer_key", "_jseq").orderBy(*_in_order())
    first_id = F.first("event_id").over(in_journey.rowsBetween(Window.unboundedPreceding, 0))
    continuing = F.col("_jseq") == 0
    df = (df.withColumn("journey_id", F.when(continuing, F.col("_c_journey"))
                        .otherwise(short_hash(F.lit("journey"), F.col("customer_key"), first_id)))
          .withColumn("step_number", (F.row_number().over(in_journey)
                                      + F.when(continuing, F.col("_c_n")).otherwise(F.lit(0))).cast("long")))
    # an inheriting event takes the stage of the journey's previous staged event
    real = F.when(F.col("_stage_raw") != INHERIT, F.col("_stage_raw"))
    before = F.last(real, ignorenulls=True).over(in_journey.rowsBetween(Window.unboundedPreceding, -1))
    inherited = F.coalesce(before, F.when(continuing, F.col("_c_stage")))
    df = df.withColumn("stage", F.when(F.col("_stage_raw") == INHERIT, inherited).otherwise(F.col("_stage_raw")))
    df = df.withColumn("stage_order", stage_order(F.col("stage"), list(s.stages)))
    # sessions run per channel, across journey boundaries
    carry_s = sessions.select("customer_key", "channel", F.col("session_id").alias("_c_session"),
                              F.col("last_event_at").alias("_c_s_at"))
    df = df.join(carry_s, ["customer_key", "channel"], "left")
    by_channel = Window.partitionBy("customer_key", "channel").orderBy(*_in_order())
    prev_s = F.coalesce(F.lag("event_at").over(by_channel), F.col("_c_s_at"))
    new_session = prev_s.isNull() | ((_micros(F.col("event_at")) - _micros(prev_s)) > F.lit(gap))
    df = df.withColumn("_new_s", new_session.cast("int"))
    df = df.withColumn("_sseq", F.sum("_new_s").over(by_channel.rowsBetween(Window.unboundedPreceding, 0)))
    in_session = Window.partitionBy("customer_key", "channel", "_sseq").orderBy(*_in_order())
    first_s = F.first("event_id").over(in_session.rowsBetween(Window.unboundedPreceding, 0))
    df = df.withColumn("session_id", F.when(F.col("_sseq") == 0, F.col("_c_session"))
                       .otherwise(short_hash(F.lit("session"), F.col("customer_key"), F.col("channel"), first_s)))
    return df.drop("_stage_raw", "_c_journey", "_c_last_at", "_c_goal", "_c_n", "_c_stage", "_new_j", "_jseq",
                   "_c_session", "_c_s_at", "_new_s", "_sseq")
