"""Touchpoints table (SPEC 3.6): volume, key-touchpoint classes, friction and experience
scores per journey start date, touchpoint, stage and channel (docs/friction.md)."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.analytics.friction_config import FrictionConfig
from jobs.contracts import table_contract
from jobs.analytics.friction_signals import attributed_events

KEY = ["journey_start_date", "touchpoint", "stage", "channel"]
ENDED = ["converted", "dropped"]
# the survey scales themselves (SPEC 1); answers outside them are not counted
NPS_SCALE, CES_SCALE, CSAT_SCALE = (0, 10), (1, 7), (1, 5)


def _valid(column: str, scale: tuple[int, int]) -> Column:
    return F.col(column).between(*scale)


def _count_if(cond: Column) -> Column:
    return F.sum(F.when(cond, 1).otherwise(0)).cast("long")


def touchpoints(journeys: DataFrame, journey_events: DataFrame, occurrences: DataFrame,
                config: FrictionConfig) -> DataFrame:
    """One row per journey_start_date x touchpoint x stage x channel; `occurrences` is the
    output of friction_occurrences for the same journeys."""
    status = journeys.select("journey_id", "status")
    ev = attributed_events(journeys, journey_events, config).join(status, on="journey_id", how="inner")
    per_event = occurrences.groupBy("event_id").agg(
        F.count("*").alias("_occurrences"),
        _count_if(F.col("signal") == "complaint").alias("_complaints"))
    journey = Window.partitionBy("journey_id")
    # end touch: the last event before the conversion, or the last event of a dropped journey
    last_touch_step = F.max(F.when(~F.col("is_conversion"), F.col("step_number"))).over(journey)
    # the journey windows first, on the partitioning by journey the events already have; the
    # join by event_id after them would otherwise have to be undone by a second shuffle by journey
    ev = (ev.withColumn("_is_first", F.col("step_number") == F.min("step_number").over(journey))
          .withColumn("_is_end", F.col("status").isin(ENDED) & (F.col("step_number") == last_touch_step))
          .join(per_event, on="event_id", how="left"))
    s = config.survey
    nps_ok, ces_ok, csat_ok = _valid("nps_score", NPS_SCALE), _valid("ces_score", CES_SCALE), \
        _valid("csat_score", CSAT_SCALE)
    df = ev.groupBy(*KEY).agg(
        F.count("*").alias("events"),
        F.countDistinct("journey_id").alias("journeys"),
        F.countDistinct("customer_key").alias("customers"),
        _count_if(F.col("_is_first")).alias("first_touch_journeys"),
        _count_if(F.col("_is_end")).alias("end_touch_journeys"),
        _count_if(F.col("_occurrences") > 0).alias("friction_events"),
        F.coalesce(F.sum("_occurrences"), F.lit(0)).cast("long").alias("friction_occurrences"),
        F.coalesce(F.sum("_complaints"), F.lit(0)).cast("long").alias("complaint_occurrences"),
        _count_if(nps_ok).alias("nps_responses"),
        _count_if(nps_ok & (F.col("nps_score") >= s.nps_promoter_min)).alias("_promoters"),
        _count_if(nps_ok & (F.col("nps_score") <= s.nps_detractor_max)).alias("_detractors"),
        _count_if(ces_ok).alias("ces_responses"),
        F.avg(F.when(ces_ok, F.col("ces_score"))).alias("ces"),
        _count_if(csat_ok).alias("csat_responses"),
        _count_if(csat_ok & (F.col("csat_score") >= s.csat_satisfied_min)).alias("_satisfied"),
    )
    c = config.touchpoint_classes
    day = Window.partitionBy("journey_start_date")
    by_events = day.orderBy(F.col("events").desc())
    df = (df
          .withColumn("friction_rate", F.col("friction_events") / F.col("events"))
          .withColumn("nps", F.when(F.col("nps_responses") > 0,
                                    100.0 * (F.col("_promoters") - F.col("_detractors")) / F.col("nps_responses")))
          .withColumn("csat_rate", F.when(F.col("csat_responses") > 0, F.col("_satisfied") / F.col("csat_responses")))
          .withColumn("is_first_touch", (F.col("first_touch_journeys") > 0) & (
              F.col("first_touch_journeys") >= c.first_touch_min_share * F.sum("first_touch_journeys").over(day)))
          .withColumn("is_end_touch", (F.col("end_touch_journeys") > 0) & (
              F.col("end_touch_journeys") >= c.end_touch_min_share * F.sum("end_touch_journeys").over(day)))
          # rank() gives tied rows the same place, so ties at the cut are all in or all out
          .withColumn("is_high_frequency",
                      F.rank().over(by_events) <= F.ceil(c.high_frequency_top_share * F.count("*").over(day)))
          .withColumn("is_complaint", F.col("complaint_occurrences") > 0)
          .withColumn("is_high_perception",
                      (F.col("nps_responses") + F.col("ces_responses") + F.col("csat_responses")
                       >= c.high_perception_min_responses) | F.col("is_complaint")))
    return df.select(*[F.col(col.name).cast(col.type).alias(col.name)
                       for col in table_contract("touchpoints").columns])
