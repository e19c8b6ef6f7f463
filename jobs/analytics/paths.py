"""Journey paths and Sankey transitions per journey start date (SPEC 3.6, docs/analytics.md).

A journey's stage path is the sequence of its events' stages (events without a stage left
out), its touchpoint path the sequence of its touchpoints; consecutive repeats collapse, and a
path longer than max_path_length ends in "…". Path rows keep the top_n paths of a day and sum
the rest into "(other)"; transition rows count every journey's moves, ending at its outcome."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

COLUMNS = [
    "journey_start_date", "path_type", "record_type", "path", "rank", "variants", "step_index", "from_step",
    "to_step", "journeys", "converted_journeys", "conversion_rate", "median_duration_seconds",
]
SEPARATOR = " > "
TRUNCATED = "…"
OTHER = "(other)"
NO_STAGE = "(no stage)"
NO_TOUCHPOINT = "(no touchpoint)"


def _collapse(steps: Column) -> Column:
    """Consecutive repeats dropped: a > a > b > a -> a > b > a."""
    return F.filter(steps, lambda s, i: F.when(i == 0, F.lit(True)).otherwise(s != F.element_at(steps, i)))


def _or(steps: Column, placeholder: str) -> Column:
    # a journey without a single step still shows up (and adds up) under a placeholder
    return F.when(F.size(steps) > 0, steps).otherwise(F.array(F.lit(placeholder)))


def _truncate(steps: Column, max_len: int) -> Column:
    return F.when(F.size(steps) > max_len, F.concat(F.slice(steps, 1, max_len), F.array(F.lit(TRUNCATED)))) \
        .otherwise(steps)


def journey_steps(journeys: DataFrame, journey_events: DataFrame, max_path_length: int) -> DataFrame:
    """One row per journey and path type: journey_start_date, path_type, steps (collapsed and
    truncated), is_converted, status, duration_seconds."""
    # one projection per stage: a lambda that reads an array column is cheap, one that reads an
    # array expression recomputes it for every element
    seq = (journey_events.groupBy("journey_id")
           .agg(F.sort_array(F.collect_list(F.struct("step_number", "stage", "touchpoint"))).alias("_ev"))
           .select("journey_id", F.filter(F.transform("_ev", lambda e: e["stage"]), lambda s: s.isNotNull())
                   .alias("_stages"), F.transform("_ev", lambda e: e["touchpoint"]).alias("_touchpoints"))
           .select("journey_id", _collapse(F.col("_stages")).alias("_stages"),
                   _collapse(F.col("_touchpoints")).alias("_touchpoints")))
    stages, touchpoints = F.col("_stages"), F.col("_touchpoints")
    kinds = F.array(F.struct(F.lit("stage").alias("path_type"), _or(stages, NO_STAGE).alias("steps")),
                    F.struct(F.lit("touchpoint").alias("path_type"), _or(touchpoints, NO_TOUCHPOINT).alias("steps")))
    return (journeys.select("journey_id", "journey_start_date", "status", "duration_seconds")
            .join(seq, "journey_id", how="left")
            .withColumns({c: F.coalesce(c, F.array().cast("array<string>")) for c in ("_stages", "_touchpoints")})
            .select("journey_start_date", "status", "duration_seconds", F.explode(kinds).alias("_k"))
            .select("journey_start_date", "_k.path_type", _truncate(F.col("_k.steps"), max_path_length).alias("steps"),
                    (F.col("status") == "converted").alias("is_converted"), "status", "duration_seconds"))


def _stats() -> list[Column]:
    return [
        F.count(F.lit(1)).cast("long").alias("journeys"),
        F.sum(F.col("is_converted").cast("long")).alias("converted_journeys"),
        F.percentile("duration_seconds", F.lit(0.5)).alias("median_duration_seconds"),
    ]


def journey_paths(journeys: DataFrame, journey_events: DataFrame, max_path_length: int, top_n: int) -> DataFrame:
    """Path rows (record_type path) and Sankey transitions (record_type transition) per
    journey_start_date and path_type (stage | touchpoint)."""
    if max_path_length < 1 or top_n < 1:
        raise ValueError("max_path_length and top_n must be at least 1")
    per_journey = journey_steps(journeys, journey_events, max_path_length) \
        .withColumn("path", F.array_join("steps", SEPARATOR))
    day = ["journey_start_date", "path_type"]

    counts = per_journey.groupBy(*day, "path").agg(F.count(F.lit(1)).alias("n"))
    # rank inside the day: most journeys first, ties by path; sorting the day's (few) distinct
    # paths as one array keeps the order explicit
    ranked = (counts.groupBy(*day).agg(F.sort_array(F.collect_list(F.struct((-F.col("n")).alias("k"), "path")))
                                       .alias("_r"))
              .select(*day, F.posexplode("_r").alias("_pos", "_p"))
              .where(F.col("_pos") < top_n)
              .select(*day, F.col("_p.path").alias("path"), (F.col("_pos") + 1).cast("int").alias("rank")))
    labelled = (per_journey.join(ranked, [*day, "path"], how="left")
                .withColumn("label", F.when(F.col("rank").isNotNull(), F.col("path")).otherwise(F.lit(OTHER))))
    paths = labelled.groupBy(*day, "label").agg(
        F.min("rank").alias("rank"), F.count_distinct("path").cast("long").alias("variants"), *_stats()) \
        .select(*day, F.lit("path").alias("record_type"), F.col("label").alias("path"), "rank", "variants",
                F.lit(None).cast("int").alias("step_index"), F.lit(None).cast("string").alias("from_step"),
                F.lit(None).cast("string").alias("to_step"), "journeys", "converted_journeys",
                "median_duration_seconds")

    # the outcome is the last node, so every journey flows from its first step to an end
    nodes = F.concat("steps", F.array(F.concat(F.lit("("), F.col("status"), F.lit(")"))))
    moves = F.transform(F.sequence(F.lit(1), F.size(nodes) - 1),
                        lambda i: F.struct(i.cast("int").alias("step_index"), F.element_at(nodes, i).alias("from_step"),
                                           F.element_at(nodes, i + 1).alias("to_step")))
    transitions = (per_journey.select(*day, "is_converted", "duration_seconds", F.explode(moves).alias("_m"))
                   .groupBy(*day, "_m.step_index", "_m.from_step", "_m.to_step").agg(*_stats())
                   .select(*day, F.lit("transition").alias("record_type"), F.lit(None).cast("string").alias("path"),
                           F.lit(None).cast("int").alias("rank"), F.lit(None).cast("long").alias("variants"),
                           "step_index", "from_step", "to_step", "journeys", "converted_journeys",
                           "median_duration_seconds"))
    return paths.unionByName(transitions).select(
        *COLUMNS[:11], (F.col("converted_journeys") / F.col("journeys")).cast("double").alias("conversion_rate"),
        "median_duration_seconds")
