"""Impact of friction points (touchpoint x stage x signal) on conversion, per journey start
date and breakdown: affected journeys against comparable unaffected ones (docs/friction.md)."""
from __future__ import annotations

from statistics import NormalDist

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.analytics.breakdowns import with_breakdowns
from jobs.analytics.friction_signals import NO_STAGE
from jobs.contracts import table_contract

POINT = ["touchpoint", "stage", "signal"]
COHORT = ["journey_start_date", "breakdown", "breakdown_value"]


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def friction_points(journeys: DataFrame, occurrences: DataFrame, confidence: float = 0.95) -> DataFrame:
    """One row per journey_start_date x breakdown x breakdown_value x touchpoint x stage x signal."""
    z = _z(confidence)
    cohort = with_breakdowns(journeys).select(
        *COHORT, "journey_id", "customer_key", "stages_reached",
        (F.col("status") == "converted").cast("long").alias("_converted"))
    per_journey = (occurrences
                   .withColumn("touchpoint", F.coalesce("touchpoint", F.lit(NO_STAGE)))
                   .withColumn("stage", F.coalesce("stage", F.lit(NO_STAGE)))
                   .groupBy("journey_id", *POINT).agg(F.count("*").alias("_occurrences")))
    # affected journeys reached the point's stage by construction; counting the ones that did keeps
    # the subtraction below exact even for inconsistent inputs
    in_pool = ((F.col("stage") == NO_STAGE) | F.array_contains("stages_reached", F.col("stage"))).cast("long")
    affected = (per_journey.join(cohort, on="journey_id", how="inner")
                .withColumn("_in_pool", in_pool)
                .groupBy(*COHORT, *POINT).agg(
                    F.sum("_occurrences").alias("occurrences"),
                    F.count("*").alias("journeys_affected"),
                    F.countDistinct("customer_key").alias("customers_affected"),
                    F.sum("_converted").alias("journeys_affected_converted"),
                    F.sum("_in_pool").alias("_affected_in_pool"),
                    F.sum(F.col("_in_pool") * F.col("_converted")).alias("_affected_in_pool_converted")))
    pool = (cohort
            .select(*COHORT, "_converted",
                    F.explode(F.concat(F.array(F.lit(NO_STAGE)), F.col("stages_reached"))).alias("stage"))
            .groupBy(*COHORT, "stage").agg(F.count("*").alias("journeys_reached_stage"),
                                           F.sum("_converted").alias("_pool_converted")))
    df = affected.join(pool, on=[*COHORT, "stage"], how="left")
    n1, n2 = F.col("journeys_affected"), F.col("journeys_unaffected")
    p1, p2 = F.col("affected_conversion_rate"), F.col("unaffected_conversion_rate")
    df = (df
          .withColumn("journeys_reached_stage", F.coalesce("journeys_reached_stage", F.lit(0)).cast("long"))
          .withColumn("journeys_unaffected", F.col("journeys_reached_stage") - F.col("_affected_in_pool"))
          .withColumn("journeys_unaffected_converted",
                      F.coalesce("_pool_converted", F.lit(0)) - F.col("_affected_in_pool_converted"))
          .withColumn("affected_conversion_rate", F.col("journeys_affected_converted") / n1)
          .withColumn("unaffected_conversion_rate",
                      F.when(n2 > 0, F.col("journeys_unaffected_converted") / n2))
          .withColumn("conversion_rate_difference", p2 - p1)
          .withColumn("_half", F.lit(z) * F.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2))
          .withColumn("difference_ci_low", F.col("conversion_rate_difference") - F.col("_half"))
          .withColumn("difference_ci_high", F.col("conversion_rate_difference") + F.col("_half"))
          .withColumn("is_significant",
                      F.coalesce((F.col("difference_ci_low") > 0) | (F.col("difference_ci_high") < 0), F.lit(False)))
          .withColumn("lost_conversions",
                      F.coalesce(n1 * F.greatest(F.lit(0.0), F.col("conversion_rate_difference")), F.lit(0.0))))
    ranking = Window.partitionBy(*COHORT).orderBy(F.col("lost_conversions").desc(), *POINT)
    df = df.withColumn("rank", F.row_number().over(ranking))
    return df.select(*[F.col(c.name).cast(c.type).alias(c.name) for c in table_contract("friction_points").columns])
