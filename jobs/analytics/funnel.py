"""Stage funnel per journey start date and breakdown (SPEC 3.6, docs/analytics.md).

Every journey is expanded to one row per breakdown and configured stage, flagged, and the
flags are summed; so every configured stage has a row for every (date, breakdown, value)
that has journeys, zeros included."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.analytics.breakdowns import with_breakdowns

COLUMNS = [
    "journey_start_date", "breakdown", "breakdown_value", "stage", "stage_order", "journeys_started",
    "journeys_reached", "journeys_reached_closed", "previous_stage_journeys_reached_closed", "journeys_progressed",
    "journeys_dropped", "journeys_in_progress", "journeys_converted", "journeys_dropped_open_funnel",
    "reach_rate", "step_conversion_rate", "dropoff_rate", "median_seconds_to_next_stage",
    "p90_seconds_to_next_stage",
]


def _count(flag: Column) -> Column:
    return F.sum(flag.cast("long"))


def _ratio(num: Column, den: Column) -> Column:
    # null, not NaN, when nobody is in the denominator
    return F.when(den > 0, num / den).cast("double")


def stage_funnel(journeys: DataFrame, stages: list[str]) -> DataFrame:
    """One row per journey_start_date x breakdown x breakdown_value x stage (stages in funnel order)."""
    if not stages:
        raise ValueError("stage_funnel needs at least one stage")
    n = len(stages)
    positions = F.array(*[
        F.struct(F.lit(i).alias("stage_order"), F.lit(s).alias("stage"),
                 F.lit(stages[i - 2] if i > 1 else None).cast("string").alias("prev_stage"),
                 F.lit(stages[i] if i < n else None).cast("string").alias("next_stage"))
        for i, s in enumerate(stages, start=1)
    ])
    closed = F.col("stages_reached_closed")
    at = F.col("closed_stage_reached_at")
    rows = (with_breakdowns(journeys)
            .withColumn("_furthest_closed", F.try_element_at(closed, F.lit(-1)))
            .withColumn("_s", F.explode(positions))
            .select("journey_start_date", "breakdown", "breakdown_value", "status", "dropoff_stage",
                    "stages_reached", "_furthest_closed", "stages_reached_closed", "closed_stage_reached_at",
                    F.col("_s.*")))
    stage = F.col("stage")
    reached_closed = F.array_contains(closed, stage)
    progressed = reached_closed & F.array_contains(closed, F.col("next_stage"))
    stopped_here = F.col("_furthest_closed") == stage
    seconds_to_next = F.when(
        progressed, (F.unix_micros(at[F.col("next_stage")]) - F.unix_micros(at[stage])).cast("double") / 1e6)
    grouped = rows.groupBy("journey_start_date", "breakdown", "breakdown_value", "stage", "stage_order").agg(
        F.count(F.lit(1)).cast("long").alias("journeys_started"),
        _count(F.array_contains("stages_reached", stage)).alias("journeys_reached"),
        _count(reached_closed).alias("journeys_reached_closed"),
        _count(F.col("prev_stage").isNull() | F.array_contains(closed, F.col("prev_stage")))
        .alias("previous_stage_journeys_reached_closed"),
        _count(F.coalesce(progressed, F.lit(False))).alias("journeys_progressed"),
        _count(stopped_here & (F.col("status") == "dropped")).alias("journeys_dropped"),
        _count(stopped_here & (F.col("status") == "open")).alias("journeys_in_progress"),
        _count(stopped_here & (F.col("status") == "converted")).alias("journeys_converted"),
        _count((F.col("status") == "dropped") & (F.col("dropoff_stage") == stage))
        .alias("journeys_dropped_open_funnel"),
        F.percentile(seconds_to_next, F.lit(0.5)).alias("median_seconds_to_next_stage"),
        F.percentile(seconds_to_next, F.lit(0.9)).alias("p90_seconds_to_next_stage"),
    )
    counts = {c: F.coalesce(F.col(c), F.lit(0)).cast("long") for c in (
        "journeys_reached", "journeys_reached_closed", "previous_stage_journeys_reached_closed", "journeys_dropped",
        "journeys_in_progress", "journeys_converted", "journeys_dropped_open_funnel")}
    # the last stage has no next stage: its conversions are in journeys_converted
    counts["journeys_progressed"] = F.when(F.col("stage_order") < n, F.col("journeys_progressed")).cast("long")
    out = grouped.withColumns(counts)
    return out.select(
        "journey_start_date", "breakdown", "breakdown_value", "stage", F.col("stage_order").cast("int"),
        *COLUMNS[5:14],
        _ratio(F.col("journeys_reached_closed"), F.col("journeys_started")).alias("reach_rate"),
        _ratio(F.col("journeys_progressed"), F.col("journeys_reached_closed")).alias("step_conversion_rate"),
        _ratio(F.col("journeys_dropped"), F.col("journeys_reached_closed")).alias("dropoff_rate"),
        "median_seconds_to_next_stage", "p90_seconds_to_next_stage",
    ).select(*COLUMNS)
