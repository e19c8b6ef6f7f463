"""Airflow assets for the tables `journeys_nightly` publishes, for DAGs downstream of it.

    from journeys_assets import TABLE_ASSETS
    @dag(schedule=TABLE_ASSETS["journeys"], ...)      # runs after every nightly publish

or, without importing this file, `schedule=Asset.ref(name="journeys.journeys")`. Each event
carries `extra={"arrival_date": "YYYY-MM-DD"}` naming the date that was published.
"""
from __future__ import annotations

from airflow.sdk import Asset

# Names are the identity BI DAGs depend on, so they do not change with where the warehouse
# lives; the x- scheme marks the URI as ours (no URI normalizer applies).
TABLES = ("events", "quarantine", "crm_customers", "identity_map", "customers", "journey_events", "journeys",
          "pipeline_runs")

TABLE_ASSETS = {
    table: Asset(name=f"journeys.{table}", uri=f"x-journeys://warehouse/{table}", group="journeys")
    for table in TABLES
}
