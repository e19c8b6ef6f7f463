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


def _source_rank() -> Column:
    rank = F.lit(9)
    for source, r in SOURCE_RANK.items():
        rank = F.when(F.col("source") == source, F.lit(r)).otherwise(rank)
    return rank


def order_key() -> Column:
    return F.struct(F.col("event_at").alias("at"), F.col("is_conversion").cast("int").alias("goal"),
                    _source_rank().alias("src"), F.col("event_id").alias("id"))


def _order_columns() -> dict[str, Column]:
    """`order_key`'s fields as plain columns, for the windows to sort on. Every window then
    asks for the same ordering of the same attributes, so Spark sorts once per partitioning
    (a field pulled out of the struct is a fresh expression in each window, and each window
    sorted again); and a sort whose first key is a timestamp compares on a binary prefix."""
    return {"_o_goal": F.col("is_conversion").cast("int"), "_o_src": _source_rank()}


IN_ORDER = ("event_at", "_o_goal", "_o_src", "event_id")


def _micros(ts: Column) -> Column:
    return F.unix_micros(ts)


def sequence(events: DataFrame, cursor: DataFrame, sessions: DataFrame, s: JourneySettings) -> DataFrame:
    """events: canonical events with customer_key (all of the window), partitioned by
    customer_key. cursor: one row per customer with its last journey before the window;
    sessions: (customer_key, channel, session_id, last_event_at) before the window.

    One sort per customer orders everything journey-wide, one more per customer and channel
    the sessions. Per-journey values (first event, step number, inherited stage) come from
    running windows over the customer's order rather than windows by journey, which would
    each sort again."""
    timeout = s.journey_timeout_days * 86_400_000_000
    gap = s.session_gap_minutes * 60_000_000
    df = (events
          .withColumn("is_conversion", F.col("event_type").isin(list(s.goal_event_types)))
          .withColumn("is_error", F.col("event_type").isin(list(s.error_event_types)))
          .withColumn("_stage_raw", raw_stage(list(s.stage_rules)))
          .withColumn("_ord", order_key())
          .withColumns(_order_columns()))
    df = df.join(_carried_state(cursor, sessions).hint("shuffle_hash"), "customer_key", "left")

    by_customer = Window.partitionBy("customer_key").orderBy(*IN_ORDER)
    df = df.withColumns({"_prev_at": F.lag("event_at").over(by_customer),
                         "_prev_goal": F.lag("is_conversion").over(by_customer),
                         "_rn": F.row_number().over(by_customer)})
    prev_at = F.coalesce(F.col("_prev_at"), F.col("_c_last_at"))
    new_journey = (prev_at.isNull() | F.coalesce(F.col("_prev_goal"), F.col("_c_goal"))
                   | ((_micros(F.col("event_at")) - _micros(prev_at)) >= F.lit(timeout)))
    # A journey is a run of the customer's order, so the latest journey start so far is this
    # row's journey's, and an earlier staged event is in this journey when it is not before
    # that start. Both come from one window; before the first start, rows continue the
    # journey carried in. Fewer windows of one ordering is fewer passes over the rows.
    staged = F.when(F.col("_stage_raw") != INHERIT,
                    F.struct(F.col("_rn").alias("rn"), F.col("_stage_raw").alias("stage")))
    df = df.withColumns({
        "_j_start": F.last(F.when(new_journey, F.struct(F.col("_rn").alias("rn"), F.col("event_id").alias("id"))),
                           ignorenulls=True).over(by_customer.rowsBetween(Window.unboundedPreceding, 0)),
        "_staged_before": F.last(staged, ignorenulls=True).over(
            by_customer.rowsBetween(Window.unboundedPreceding, -1))})
    continuing = F.col("_j_start").isNull()
    # an inheriting event takes the stage of its journey's previous staged event
    inherited = F.when(continuing, F.coalesce(F.col("_staged_before.stage"), F.col("_c_stage"))).when(
        F.col("_staged_before.rn") >= F.col("_j_start.rn"), F.col("_staged_before.stage"))
    df = df.withColumns({
        "journey_id": F.when(continuing, F.col("_c_journey"))
                       .otherwise(short_hash(F.lit("journey"), F.col("customer_key"), F.col("_j_start.id"))),
        "step_number": F.when(continuing, F.col("_rn") + F.col("_c_n"))
                        .otherwise(F.col("_rn") - F.col("_j_start.rn") + 1).cast("long"),
        "stage": F.when(F.col("_stage_raw") == INHERIT, inherited).otherwise(F.col("_stage_raw"))})
    df = df.withColumn("stage_order", stage_order(F.col("stage"), list(s.stages)))

    # sessions run per channel, across journey boundaries
    carried_session = F.col("_c_sessions").getItem(F.col("channel"))
    by_channel = Window.partitionBy("customer_key", "channel").orderBy(*IN_ORDER)
    df = df.withColumn("_prev_s_at", F.lag("event_at").over(by_channel))
    prev_s = F.coalesce(F.col("_prev_s_at"), carried_session["at"])
    new_session = prev_s.isNull() | ((_micros(F.col("event_at")) - _micros(prev_s)) > F.lit(gap))
    df = df.withColumn("_s_first", F.last(F.when(new_session, F.col("event_id")), ignorenulls=True)
                       .over(by_channel.rowsBetween(Window.unboundedPreceding, 0)))
    df = df.withColumn("session_id", F.when(F.col("_s_first").isNull(), carried_session["id"])
                       .otherwise(short_hash(F.lit("session"), F.col("customer_key"), F.col("channel"),
                                             F.col("_s_first"))))
    return df.drop("_stage_raw", "_o_goal", "_o_src", "_c_journey", "_c_last_at", "_c_goal", "_c_n", "_c_stage",
                   "_c_sessions", "_prev_at", "_prev_goal", "_rn", "_j_start", "_staged_before", "_prev_s_at",
                   "_s_first")


def _carried_state(cursor: DataFrame, sessions: DataFrame) -> DataFrame:
    """One row per customer: its last journey and, by channel, its last sessions. Joined on
    the customer alone, the events stay where the repartition by customer put them (a join
    on customer and channel shuffled every event again)."""
    journey = cursor.select("customer_key", F.col("journey_id").alias("_c_journey"),
                            F.col("last_event_at").alias("_c_last_at"), F.col("last_is_goal").alias("_c_goal"),
                            F.col("n_events").alias("_c_n"), F.col("last_stage").alias("_c_stage"))
    by_channel = (sessions.groupBy("customer_key")
                  .agg(F.map_from_entries(F.collect_list(F.struct(
                      "channel", F.struct(F.col("session_id").alias("id"), F.col("last_event_at").alias("at")))))
                       .alias("_c_sessions")))
    return journey.join(by_channel, "customer_key", "full")
