"""Breakdowns shared by every analytics table: each journey counts once in `all` and once
under each of its first-touch attributes. A missing attribute is its own value, `(unknown)`,
so breakdown rows of one kind always add up to the `all` row."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

UNKNOWN = "(unknown)"
ALL = "all"

# breakdown name -> journeys column it comes from (segment and region: the CRM version at
# the journey's start; channel and device: the journey's first touch)
BREAKDOWNS: dict[str, str | None] = {
    "all": None,
    "segment": "segment",
    "channel": "first_touch_channel",
    "device": "first_touch_device",
    "region": "region",
}


def breakdown_pairs() -> Column:
    """An array<struct<breakdown, breakdown_value>> with one entry per breakdown."""
    return F.array(*[
        F.struct(F.lit(name).alias("breakdown"),
                 (F.lit(ALL) if column is None else F.coalesce(F.col(column), F.lit(UNKNOWN))).alias("breakdown_value"))
        for name, column in BREAKDOWNS.items()
    ])


def with_breakdowns(journeys: DataFrame) -> DataFrame:
    """One row per journey and breakdown: adds `breakdown` and `breakdown_value`."""
    return (journeys.withColumn("_bd", F.explode(breakdown_pairs()))
            .withColumn("breakdown", F.col("_bd.breakdown"))
            .withColumn("breakdown_value", F.col("_bd.breakdown_value"))
            .drop("_bd"))
