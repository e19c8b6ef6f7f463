"""Which contract, mapper and output table each source uses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyspark.sql import DataFrame

from jobs.config import Config
from jobs.normalize import canonical


@dataclass(frozen=True)
class SourceSpec:
    name: str
    contract: str
    mapper: Callable[[DataFrame, canonical.MappingContext], DataFrame]
    table: str              # output table of accepted rows
    latest_wins_key: str | None = None   # state records: keep the latest version per key


def source_specs(config: Config) -> list[SourceSpec]:
    click_is_export = config.sources.clickstream.format != "ndjson"
    return [
        SourceSpec(
            "clickstream",
            config.sources.clickstream.contract or ("clickstream_export" if click_is_export else "clickstream_events"),
            canonical.export_events if click_is_export else canonical.clickstream_events,
            "events",
        ),
        SourceSpec("crm_customers", config.sources.crm_customers.contract or "crm_customers",
                   canonical.customer_records, "crm_customers", latest_wins_key="customer_id"),
        SourceSpec("crm_activities", config.sources.crm_activities.contract or "crm_activities",
                   canonical.activity_events, "events"),
        SourceSpec("calls", config.sources.calls.contract or "call_logs", canonical.call_events, "events"),
    ]
