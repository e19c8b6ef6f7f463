"""Build step: resolve identities and rebuild the journeys the night's data touches.

Reads the published tables plus the night's staged `events` and `crm_customers`,
writes `identity_map`, `customers`, `journey_events` and `journeys` to the staging
area, and keeps two kinds of internal state under `<warehouse>/_state/`:
* `identity_nodes` / `identity_links` (as_of=<arrival date>): every id and link seen;
* `journey_cursor` / `journey_sessions` (before=<date>): each customer's last journey
  and sessions from before a date, so a journey that started long ago continues without
  its old events being read again.
See docs/identity.md and docs/journeys.md.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import faults, storage
from jobs.analytics.analyse import analyse
from jobs.analytics.friction import friction_occurrences
from jobs.config import Config
from jobs.contracts import table_contract
from jobs.identity import graph, tables
from jobs.identity.lineage import release
from jobs.journeys.sequence import JourneySettings, order_key, sequence
from jobs.journeys.summary import PARTIAL_SCHEMA, SESSION_SCHEMA, advance_cursor, finalize, summarize

log = logging.getLogger("journeys.build")

NODE_SCHEMA = f"node string, first_seen_at timestamp, last_seen_at timestamp, first_event {graph.FIRST_EVENT_TYPE}"
LINK_SCHEMA = "a string, b string, first_seen_at timestamp, last_seen_at timestamp"


@dataclass
class BuildResult:
    run_date: str
    window_start: str
    events_in_window: int = 0
    journey_events: int = 0
    journeys_written: int = 0
    journeys_by_status: dict[str, int] = field(default_factory=dict)
    start_dates_analysed: int = 0
    friction_occurrences: int = 0
    customers: int = 0
    ids: int = 0
    shared_ids: int = 0
    components_by_size: dict[str, int] = field(default_factory=dict)
    cc_rounds: int = 0
    oversized_components: int = 0
    rekeyed_ids: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds_by_phase: dict[str, float] = field(default_factory=dict)

    def lap(self, phase: str, since: float) -> float:
        now = time.monotonic()
        self.seconds_by_phase[phase] = round(now - since, 2)
        log.info("build %s: %s took %.1f s", self.run_date, phase, now - since)
        return now

    def to_dict(self) -> dict:
        return asdict(self)


def journey_settings(config: Config) -> JourneySettings:
    j = config.journeys
    return JourneySettings(tuple(j.stages), tuple(j.stage_rules), tuple(j.goal_event_types),
                           tuple(j.error_event_types), config.windows.session_gap_minutes,
                           config.windows.journey_timeout_days)


def identity_settings(config: Config) -> graph.IdentitySettings:
    i = config.identity
    return graph.IdentitySettings(i.max_links_per_id, i.max_component_size, i.restitch_days, i.max_rounds)


def _day_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, dtime.min, tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _union(frames: list[DataFrame | None]) -> DataFrame | None:
    frames = [f for f in frames if f is not None]
    if not frames:
        return None
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def _table_upto(spark: SparkSession, config: Config, root: str, table: str, day: date,
                upto: date | None = None) -> DataFrame | None:
    """A table as of arrival `upto` (default: this run's date): published rows plus the night's
    staged rows, which replace the published rows of the run's own arrival date."""
    upto = upto or day
    published = storage.read_table(spark, config.warehouse, table)
    staged = storage.read_staged(spark, root, table)
    if published is not None:
        keep = F.col("arrival_date") <= F.lit(upto)
        if staged is not None:
            keep = keep & (F.col("arrival_date") != F.lit(day))
        published = published.where(keep)
    return _union([published, staged])


def build(spark: SparkSession, config: Config, day: date, window_start: date | None = None) -> BuildResult:
    """window_start None: the nightly window (reprocess_days back from `day`); a date: rebuild
    journeys from that date on with no carried state (a full rebuild passes the first event date)."""
    wh, root, tz = config.warehouse, storage.staging_root(config.warehouse, day), config.reporting_timezone
    nightly = window_start is None
    run_day = day
    latest = storage.latest_state(spark, wh, "identity_nodes", "as_of")
    if nightly and latest is not None and latest > day.isoformat():
        # a rerun of an earlier night: the derived tables already hold later nights, so they are
        # rebuilt as of the latest built night, with this night's rows in place of the old ones
        day = date.fromisoformat(latest)
    start = day - timedelta(days=config.reprocess_days - 1) if nightly else window_start
    result = BuildResult(run_day.isoformat(), start.isoformat())
    if day != run_day:
        result.warnings.append(f"later nights are built (up to {day}): identity and journeys were rebuilt as of {day}")
    persisted: list[DataFrame] = []
    checkpoints: list[DataFrame] = []

    def keep(df: DataFrame) -> DataFrame:
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        persisted.append(df)
        return df

    mark = time.monotonic()
    try:
        events = _table_upto(spark, config, root, "events", run_day, day)
        versions = _table_upto(spark, config, root, "crm_customers", run_day, day)
        if events is None:
            raise RuntimeError(f"no events for {day}: run the normalize step first")
        if versions is None:
            versions = spark.createDataFrame([], table_contract("crm_customers").spark_schema())

        # ---- identity: merge the new evidence into the graph state, resolve it
        prev_as_of, prev_nodes = storage.read_state(spark, wh, "identity_nodes", "as_of",
                                                    (day - timedelta(days=1)).isoformat(), NODE_SCHEMA)
        _, prev_links = storage.read_state(spark, wh, "identity_links", "as_of", prev_as_of or "0000", LINK_SCHEMA)
        fresh = F.col("arrival_date") > F.lit(prev_as_of) if prev_as_of else F.lit(True)
        ev_nodes, ev_links = graph.evidence_from_events(events.where(fresh))
        crm_nodes, crm_links = graph.evidence_from_customers(versions.where(fresh))
        nodes = keep(graph.merge_nodes(prev_nodes, ev_nodes, crm_nodes))
        links = keep(graph.merge_links(prev_links, ev_links, crm_links))
        storage.write_state(nodes, wh, "identity_nodes", "as_of", day.isoformat())
        storage.write_state(links, wh, "identity_links", "as_of", day.isoformat())
        faults.point("build.identity_state_written")
        storage.prune_state(spark, wh, "identity_nodes", "as_of", (day - timedelta(days=7)).isoformat())
        storage.prune_state(spark, wh, "identity_links", "as_of", (day - timedelta(days=7)).isoformat())
        resolution = graph.resolve(nodes, links, identity_settings(config))
        checkpoints.append(resolution.node_keys)
        result.cc_rounds, result.oversized_components = resolution.rounds, resolution.oversized_components
        if resolution.oversized_components:
            result.warnings.append(f"{resolution.oversized_components} identity component(s) above "
                                   f"{config.identity.max_component_size} ids were split by CRM customer id")
        node_keys = keep(tables.device_keys(resolution.node_keys, resolution.device_users))
        identity_map = keep(tables.identity_map(nodes, node_keys))
        customers = keep(tables.customers(nodes, node_keys, tables.latest_crm(versions)))
        _identity_figures(spark, config, identity_map, customers, result)
        mark = result.lap("identity", mark)

        # ---- journeys: the window's events, continued from the cursor
        start_ts = _day_start(start, tz)
        cursor_before, cursor, sessions = _cursor(spark, config, start) if nightly else (
            None, spark.createDataFrame([], PARTIAL_SCHEMA), spark.createDataFrame([], SESSION_SCHEMA))
        in_window = events.where(F.col("event_date") >= F.lit(start))
        logins = (events.where((F.col("event_date") >= F.lit(start - timedelta(days=config.identity.restitch_days)))
                               & F.col("anonymous_id").isNotNull() & F.col("user_id").isNotNull())
                  .select(graph.node("a", F.col("anonymous_id")).alias("device"),
                          graph.node("u", F.col("user_id")).alias("user"), F.col("event_at").alias("login_at"))
                  .distinct())
        attributed = graph.attribute_events(in_window, resolution.node_keys, resolution.device_users, logins,
                                            config.identity.restitch_days,
                                            broadcast=result.ids <= config.spark.max_broadcast_rows)
        settings = journey_settings(config)
        rows = keep(sequence(attributed.repartition("customer_key"), cursor, sessions, settings))
        result.events_in_window = rows.count()
        journey_events = rows.select(*table_contract("journey_events").column_names)
        storage.stage_table(journey_events, root, "journey_events", ["customer_key", "step_number", "event_id"],
                            {"glob": "event_date=*", "from": start.isoformat()})
        result.journey_events = result.events_in_window
        mark = result.lap("journey_events", mark)

        partials = summarize(rows, cursor)
        as_of = _day_start(day + timedelta(days=1), tz)
        if nightly:
            # the customer's last journey before the window changes status as time passes
            horizon = as_of - timedelta(days=config.windows.journey_timeout_days + config.reprocess_days)
            carried = (cursor.where(F.col("converted_at").isNull() & (F.col("last_event_at") >= F.lit(horizon)))
                       .join(partials.select("journey_id"), "journey_id", "left_anti"))
            partials = partials.unionByName(carried.select(*partials.columns))
        new_rows = finalize(partials, list(settings.stages), as_of, config.windows.journey_timeout_days, tz)
        new_rows = keep(tables.journey_segments(new_rows, customers, versions))
        journeys = _journeys_partitions(spark, config, new_rows, start_ts)
        storage.stage_table(journeys["rows"], root, "journeys", ["customer_key", "started_at", "journey_id"],
                            {"glob": "journey_start_date=*", "partitions": journeys["partitions"]})
        counts = new_rows.groupBy("status").count().collect()
        result.journeys_by_status = {r["status"]: r["count"] for r in counts}
        result.journeys_written = sum(result.journeys_by_status.values())
        mark = result.lap("journeys", mark)

        # ---- analytics: every start date holding a rewritten journey, recomputed whole. The
        # inputs are read back from staging: their lineage (identity, sequencing, cursor) would
        # otherwise be planned again under every analytics table
        affected = keep(storage.read_staged(spark, root, "journeys"))
        start_dates = journeys["dates"]
        result.start_dates_analysed = len(start_dates)
        window_events = storage.read_staged(spark, root, "journey_events")
        if start_dates:
            published = storage.read_table(spark, wh, "journey_events")
            if published is not None and min(start_dates) < start:
                older = published.where((F.col("event_date") >= F.lit(min(start_dates)))
                                        & (F.col("event_date") < F.lit(start)))
                window_events = older.unionByName(window_events)
        their_events = keep(window_events.join(affected.select("journey_id"), "journey_id", "left_semi"))
        owned = {"glob": "journey_start_date=*", "partitions": journeys["partitions"]}
        storage.stage_table(friction_occurrences(affected, their_events, config.analytics.friction,
                                                 config.journeys.error_event_types),
                            root, "friction_occurrences", _scalar_columns("friction_occurrences"), owned)
        occurrences = keep(storage.read_staged(spark, root, "friction_occurrences"))
        result.friction_occurrences = occurrences.count()
        for table, frame in analyse(affected, their_events, config, occurrences).items():
            if table != "friction_occurrences":
                storage.stage_table(frame, root, table, _scalar_columns(table), owned)
        mark = result.lap("analytics", mark)

        # ---- cursor for the next night: fold the first window date, which leaves the window
        nxt = start + timedelta(days=1) if nightly else day - timedelta(days=config.reprocess_days - 2)
        leaving = rows.where(F.col("event_date") < F.lit(nxt))
        new_cursor, new_sessions = advance_cursor(cursor, sessions, leaving)
        storage.write_state(new_cursor, wh, "journey_cursor", "before", nxt.isoformat())
        storage.write_state(new_sessions, wh, "journey_sessions", "before", nxt.isoformat())
        faults.point("build.cursor_written")
        storage.prune_state(spark, wh, "journey_cursor", "before", (nxt - timedelta(days=7)).isoformat())
        storage.prune_state(spark, wh, "journey_sessions", "before", (nxt - timedelta(days=7)).isoformat())

        storage.stage_table(identity_map, root, "identity_map", ["customer_key", "id_value"], {"glob": "id_type=*"})
        storage.stage_table(customers, root, "customers", ["customer_key"], {"glob": "customer_type=*"})
        result.lap("cursor and identity tables", mark)
        storage.write_json(f"{root}/_reports/build.json", result.to_dict())
        return result
    finally:
        for df in persisted:
            df.unpersist()
        release(*checkpoints)


def _scalar_columns(table: str) -> list[str]:
    """Analytics rows sorted on every scalar column: files come out the same on every run."""
    contract = table_contract(table)
    return [c.name for c in contract.columns
            if c.name not in contract.partition_by and not c.type.startswith(("map<", "array<"))]


def _cursor(spark: SparkSession, config: Config, start: date) -> tuple[str | None, DataFrame, DataFrame]:
    """Each customer's last journey and sessions before `start`: the newest snapshot, brought
    forward over the published journey_events between it and `start`."""
    wh = config.warehouse
    before, cursor = storage.read_state(spark, wh, "journey_cursor", "before", start.isoformat(), PARTIAL_SCHEMA)
    _, sessions = storage.read_state(spark, wh, "journey_sessions", "before", before or "0000", SESSION_SCHEMA)
    if before == start.isoformat():
        return before, cursor, sessions
    published = storage.read_table(spark, wh, "journey_events")
    if published is None:
        return before, cursor, sessions
    gap = published.where(F.col("event_date") < F.lit(start))
    if before is not None:
        gap = gap.where(F.col("event_date") >= F.lit(date.fromisoformat(before)))
    gap = gap.withColumn("_ord", order_key())
    cursor, sessions = advance_cursor(cursor, sessions, gap)
    return before, cursor, sessions


def _journeys_partitions(spark: SparkSession, config: Config, new_rows: DataFrame, start_ts: datetime) -> dict:
    """Journeys are partitioned by start date, and a night rewrites journeys that started long
    ago: every partition holding a replaced or new journey is rewritten whole."""
    published = storage.read_table(spark, config.warehouse, "journeys")
    contract_cols = table_contract("journeys").column_names
    new_rows = new_rows.select(*contract_cols)
    if published is None:
        dates = sorted(r[0] for r in new_rows.select("journey_start_date").distinct().collect())
        return {"rows": new_rows, "dates": dates,
                "partitions": [f"journey_start_date={d.isoformat()}" for d in dates]}
    replaced = published.where(F.col("ended_at") >= F.lit(start_ts)).select("journey_id", "journey_start_date") \
        .unionByName(published.join(new_rows.select("journey_id"), "journey_id", "left_semi")
                     .select("journey_id", "journey_start_date"))
    dates = sorted({r[0] for r in replaced.select("journey_start_date").distinct().collect()}
                   | {r[0] for r in new_rows.select("journey_start_date").distinct().collect()})
    kept = (published.where(F.col("journey_start_date").isin(dates))
            .join(replaced.select("journey_id"), "journey_id", "left_anti"))
    rows = kept.select(*contract_cols).unionByName(new_rows)
    return {"rows": rows, "dates": dates, "partitions": [f"journey_start_date={d.isoformat()}" for d in dates]}


def _identity_figures(spark, config, identity_map: DataFrame, customers: DataFrame, result: BuildResult) -> None:
    ids = identity_map.agg(F.count("*").alias("n"), F.sum(F.col("is_shared").cast("long")).alias("shared")).first()
    result.ids, result.shared_ids = ids["n"], ids["shared"] or 0
    buckets = (customers.select(F.when(F.col("n_ids") <= 1, "1").when(F.col("n_ids") <= 3, "2-3")
                                .when(F.col("n_ids") <= 10, "4-10").when(F.col("n_ids") <= 100, "11-100")
                                .otherwise(">100").alias("size"))
               .groupBy("size").count().collect())
    result.components_by_size = {r["size"]: r["count"] for r in sorted(buckets, key=lambda r: r["size"])}
    result.customers = sum(result.components_by_size.values())
    previous = storage.read_table(spark, config.warehouse, "identity_map")
    if previous is not None:
        # devices are left out: their events follow the time-bounded login rule, not the map
        result.rekeyed_ids = (previous.alias("p").join(identity_map.alias("n"), ["id_type", "id_value"], "inner")
                              .where((F.col("p.customer_key") != F.col("n.customer_key"))
                                     & (F.col("id_type") != "anonymous_id")).count())
        if result.rekeyed_ids:
            result.warnings.append(f"{result.rekeyed_ids} id(s) changed customer_key; their rows before the "
                                   "reprocessing window keep the old key until a full rebuild")
