"""Every analytics table from one set of journeys and their events.

The input holds complete journey start dates (every journey that started on them, with all
its events), and every table is partitioned by journey start date, so a night that rewrote
some start dates recomputes exactly those partitions and gets what a full rebuild gets.
"""
from __future__ import annotations

from pyspark.sql import DataFrame

from jobs.analytics.friction import friction_occurrences, friction_points
from jobs.analytics.funnel import stage_funnel
from jobs.analytics.named_funnels import funnel_results
from jobs.analytics.paths import journey_paths
from jobs.analytics.touchpoints import touchpoints
from jobs.config import Config

# in the order they are written; each is partitioned by journey_start_date
TABLES = ("stage_funnel", "funnel_results", "journey_paths", "friction_occurrences", "friction_points", "touchpoints")


def analyse(journeys: DataFrame, journey_events: DataFrame, config: Config,
            occurrences: DataFrame | None = None) -> dict[str, DataFrame]:
    """Table name -> frame. `occurrences` may be passed in already computed (and cached) from
    the same input, since friction_points and touchpoints both read it."""
    a = config.analytics
    if occurrences is None:
        occurrences = friction_occurrences(journeys, journey_events, a.friction, config.journeys.error_event_types)
    return {
        "stage_funnel": stage_funnel(journeys, list(config.journeys.stages)),
        "funnel_results": funnel_results(journeys, journey_events, list(a.named_funnels)),
        "journey_paths": journey_paths(journeys, journey_events, a.paths.max_path_length, a.paths.top_n),
        "friction_occurrences": occurrences,
        "friction_points": friction_points(journeys, occurrences, a.friction.confidence),
        "touchpoints": touchpoints(journeys, journey_events, occurrences, a.friction),
    }
