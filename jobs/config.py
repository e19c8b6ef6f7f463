"""Typed, validated pipeline configuration loaded from one YAML file.

Every path, time zone, window and threshold the jobs use comes from here, so a
deployment changes behaviour by editing YAML, never code.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jobs.analytics.friction_config import FrictionConfig
from jobs.analytics.funnel_config import NamedFunnel, PathsConfig, check_unique_names

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "journeys.yaml"


class ConfigError(Exception):
    """A configuration problem, reported as one line naming the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class SourceConfig(_Strict):
    path: str = Field(description="fsspec URI of the source's raw zone; holds arrival_date=YYYY-MM-DD/ folders")
    format: Literal["ndjson", "csv", "parquet"] = Field(description="ndjson, csv or parquet")
    timezone: str = Field("UTC", description="zone of timestamps written without an offset")
    delimiter: str = Field(",", description="field separator of csv files")
    column_mapping: dict[str, str] = Field(
        default_factory=dict,
        description="contract column -> column name in the source file (bring-your-own exports)",
    )
    contract: str | None = Field(None, description="raw contract name; defaults by source and format")

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _check_zone(v)))

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str) -> str:
        if len(v) != 1:
            raise ValueError("must be a single character")
        return v


class SourcesConfig(_Strict):
    clickstream: SourceConfig
    crm_customers: SourceConfig
    crm_activities: SourceConfig
    calls: SourceConfig


class PiiConfig(_Strict):
    key_env: str = Field("JOURNEYS_PII_KEY", description="environment variable holding the HMAC key")
    airflow_conn_id: str | None = Field(
        "journeys_pii", description="Airflow connection whose password is the key (used inside Airflow)"
    )
    min_key_length: int = Field(16, ge=8, description="shortest key accepted")
    default_country_code: str = Field("1", pattern=r"^[1-9]\d{0,2}$", description="country code for phones written without one")
    national_number_length: int = Field(10, ge=4, le=14, description="digits of a national number without trunk prefix")
    trunk_prefix: str = Field("", pattern=r"^\d?$", description="national trunk prefix to drop (\"0\" in the UK or Germany)")


class WindowsConfig(_Strict):
    max_lateness_days: int = Field(3, ge=0, description="events older than this vs their arrival are quarantined")
    future_tolerance_minutes: int = Field(
        10, ge=0, description="corrected event time may lead received_at by this much"
    )
    clock_skew_tolerance_seconds: int = Field(
        60, ge=0, description="device clocks further off than this (sent_at vs received_at) are corrected"
    )
    session_gap_minutes: int = Field(30, ge=1, description="inactivity that ends a session (journey step)")
    journey_timeout_days: int = Field(30, ge=1, description="inactivity that ends a journey (journey step)")


class QualityConfig(_Strict):
    max_bad_fraction: float = Field(0.05, gt=0, lt=1, description="critical checks fail above this share of bad rows")
    enforce: bool = Field(True, description="a critical validation failure stops the run; false only records it")
    validate_raw: bool = Field(
        True, description="run the raw Great Expectations suites; false only to replay raw data already validated")
    min_event_date: date = Field(date(2000, 1, 1), description="earlier timestamps are quarantined as out of range")
    max_record_bytes: int = Field(1_000_000, ge=1024, description="longer raw lines are quarantined")
    validation_threads: int = Field(2, ge=1, le=16, description="Great Expectations suites validated side by side")


class BotsConfig(_Strict):
    max_events_per_day: int = Field(
        500, ge=1, description="an id with more accepted events than this on one event date (in one arrival) is "
                               "a bot: those events go to the bots table, not to events")
    id_columns: list[Literal["anonymous_id", "user_id", "customer_id", "email_hash", "phone_hash"]] = Field(
        ["anonymous_id", "user_id"], min_length=1, description="ids counted per event date: devices and logins")


class SparkConfig(_Strict):
    master: str = Field("local[*]", description="Spark master when not started by spark-submit")
    app_name: str = Field("customer-journeys", description="Spark application name")
    shuffle_partitions: int = Field(
        8, ge=1, description="spark.sql.shuffle.partitions: about 8 per million raw events a night (the "
        "benchmark's 10M-event night runs with 80 in an 8 GB driver); many more than the data needs slow the "
        "identity rounds (200 with adaptive coalescing: a 1M night 449 s against 265 s). Files are read, and adaptive "
        "coalescing leaves large shuffles, in at least as many pieces (spark.sql.files.minPartitionNum, "
        "spark.sql.adaptive.coalescePartitions.minPartitionNum; `conf` can set them apart)")
    max_lines_per_task: int = Field(
        250_000, ge=1000, description="raw lines one task reads at most: a larger input split (a gzip file is "
        "read whole by one task) is spread over more tasks, which keeps partitions small enough to persist")
    max_broadcast_rows: int = Field(
        1_000_000, ge=0, description="lookup tables sent whole to every task up to this many rows, "
        "else joined by shuffling the wide side: a day's repeated event copies (duplicates, re-deliveries), joined "
        "back to its rows; the identity graph's ids and devices, which give each of the window's events its "
        "customer")
    driver_memory: str = Field("2g", pattern=r"^\d+[kmgKMG]$", description="spark.driver.memory (local mode)")
    conf: dict[str, str] = Field(default_factory=dict, description=(
        "any other Spark settings; they override the project's defaults (jobs/spark_session.py), e.g. "
        "`spark.python.sql.dataFrameDebugging.enabled: 'true'` to have PySpark name the Python line of a "
        "failing column expression in its errors, which the project turns off (it cost a tiny date 8-17% "
        "of its time), or `spark.sql.ui.retainedExecutions: '1000'` to have the Spark UI keep more than the "
        "project's 200 latest queries (Spark's default 1,000 held hundreds of MB of plans in a session that runs many dates)"))
    jvm_options: str = Field(
        "", description="JVM options for the driver and executors, after the project's own (spark-submit "
        "reads them before the job starts, so they cannot go in conf): e.g. `-XX:TieredStopAtLevel=1 "
        "-XX:ReservedCodeCacheSize=256m` for short runs on tiny data, where JIT compiling costs more than it saves")
    class_archive: str = Field(
        "", description="class-data-sharing archive the driver JVM maps at start, which saves about 6 s of "
        "loading Spark's classes per step (relative: to this file; `journeys class-archive` "
        "builds it, scripts/setup.sh at .venv/journeys-classes.jsa); empty: none; a missing file is skipped "
        "with a warning, and a JVM or PySpark other than the one that built it ignores it")


class IdentityConfig(_Strict):
    max_links_per_id: int = Field(
        1, ge=1, description="an id linked to more distinct CRM customers or user ids than this is shared and merges nothing")
    max_component_size: int = Field(
        200, ge=2, description="larger identity components are reported and split by CRM customer id")
    restitch_days: int = Field(
        7, ge=0, description="anonymous events up to this many days before a device's first login join that customer")
    max_rounds: int = Field(100, ge=1, description="connected-components rounds before giving up")


class StageRule(_Strict):
    stage: str | None = Field(None, description="stage the matching events get; omit with inherit: true")
    inherit: bool = Field(False, description="matching events take the stage of the customer's previous event")
    source: list[str] | None = Field(None, description="match these sources")
    channel: list[str] | None = Field(None, description="match these channels")
    event_type: list[str] | None = Field(None, description="match these event types")
    page_path: str | None = Field(None, description="regular expression the page path must match (whole path)")
    touchpoint: str | None = Field(None, description="regular expression the touchpoint must match (whole value)")

    @model_validator(mode="after")
    def _stage_or_inherit(self):
        if (self.stage is None) == (not self.inherit):
            raise ValueError("a stage rule needs exactly one of stage: NAME or inherit: true")
        return self


class JourneysConfig(_Strict):
    stages: list[str] = Field(description="stage names in funnel order")
    stage_rules: list[StageRule] = Field(description="ordered rules; the first that matches an event gives its stage")
    goal_event_types: list[str] = Field(["purchase"], min_length=1, description="event types that convert and end a journey")
    error_event_types: list[str] = Field(
        ["form_error", "payment_failed", "error_page"], description="event types counted as errors in journeys")

    @model_validator(mode="after")
    def _known_stages(self):
        unknown = sorted({r.stage for r in self.stage_rules if r.stage and r.stage not in self.stages})
        if unknown:
            raise ValueError(f"stage_rules name stages missing from stages: {', '.join(unknown)}")
        if len(set(self.stages)) != len(self.stages):
            raise ValueError("stages must be distinct")
        return self


class AnalyticsConfig(_Strict):
    named_funnels: list[NamedFunnel] = Field([], description="funnels defined as ordered event predicates")
    paths: PathsConfig = Field(default_factory=lambda: PathsConfig(), description="journey paths: steps kept and top paths")
    friction: FrictionConfig = Field(default_factory=lambda: FrictionConfig(),
                                     description="friction signals and their thresholds")

    @field_validator("named_funnels")
    @classmethod
    def _distinct_names(cls, v):
        check_unique_names(v)
        return v


class Config(_Strict):
    warehouse: str = Field(description="root URI of the output tables")
    reporting_timezone: str = Field("UTC", description="zone that defines *_date columns")
    sources: SourcesConfig
    pii: PiiConfig = PiiConfig()
    windows: WindowsConfig = WindowsConfig()
    quality: QualityConfig = QualityConfig()
    bots: BotsConfig = BotsConfig()
    spark: SparkConfig = SparkConfig()
    identity: IdentityConfig = IdentityConfig()
    journeys: JourneysConfig
    analytics: AnalyticsConfig = Field(default_factory=lambda: AnalyticsConfig(),
                                       description="stage funnel, named funnels, friction points")
    extract: ExtractConfig = Field(default_factory=lambda: ExtractConfig(),
                                   description="how the Airflow extract tasks fill the raw zone")
    base_dir: str = Field("", exclude=True, description="directory relative paths resolve against")

    _tz = field_validator("reporting_timezone")(classmethod(lambda cls, v: _check_zone(v)))

    @model_validator(mode="before")
    @classmethod
    def _resolve_paths(cls, data):
        # Relative paths mean "relative to the config file", so a config works from any cwd.
        if not isinstance(data, dict):
            return data
        base = Path(data.get("base_dir") or ".")
        data = dict(data)
        if isinstance(data.get("warehouse"), str):
            data["warehouse"] = _resolve(data["warehouse"], base)
        if isinstance(data.get("sources"), dict):
            data["sources"] = {
                name: ({**src, "path": _resolve(src["path"], base)}
                       if isinstance(src, dict) and isinstance(src.get("path"), str) else src)
                for name, src in data["sources"].items()
            }
        spark = data.get("spark")
        if isinstance(spark, dict) and isinstance(spark.get("class_archive"), str) and spark["class_archive"]:
            data["spark"] = {**spark, "class_archive": _resolve(spark["class_archive"], base)}
        return data

    @property
    def reprocess_days(self) -> int:
        """Event dates a nightly build recomputes, counted back from the arrival date: late events
        reach max_lateness_days back, and a late login re-stitches restitch_days before itself."""
        return self.windows.max_lateness_days + self.identity.restitch_days + 1

    def digest(self) -> str:
        """Short hash of the effective settings, recorded with every run."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def with_overrides(self, **changes) -> "Config":
        data = self.model_dump(mode="json")
        _deep_update(data, changes)
        return Config.model_validate({**data, "base_dir": self.base_dir})


def _resolve(uri: str, base: Path) -> str:
    if "://" in uri or uri.startswith("/"):
        return uri
    return str((base / uri).resolve())


def _deep_update(target: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _first_error_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(root)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown setting"
    elif err["type"] == "missing":
        msg = "required setting is missing"
    got = err.get("input")
    shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f" (got {got!r})"
    more = len(exc.errors()) - 1
    tail = f"; {more} more problem(s)" if more > 0 else ""
    return f"{key}: {msg}{shown}{tail}"


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a config file; raise ConfigError with one readable line. Without a
    path: $JOURNEYS_CONFIG (what the Docker images set), else config/journeys.yaml."""
    cfg_path = Path(path or os.environ.get("JOURNEYS_CONFIG") or DEFAULT_CONFIG_PATH)
    if not cfg_path.is_file():
        raise ConfigError(f"config file not found: {cfg_path}")
    try:
        raw = yaml.safe_load(cfg_path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{cfg_path}: not valid YAML{where}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{cfg_path}: top level must be a mapping of settings")
    if "base_dir" in raw:
        raise ConfigError("base_dir: unknown setting")
    try:
        return Config.model_validate({**raw, "base_dir": str(cfg_path.resolve().parent)})
    except ValidationError as exc:
        raise ConfigError(f"{cfg_path.name}: {_first_error_line(exc)}") from None


# ---------------------------------------------------------------- extract (Airflow extract tasks)


class LandingConfig(_Strict):
    uri: str | None = Field(
        None, description="fsspec URI where the source's deliveries land (relative: to this file); "
                          "empty: deliveries are written straight into the raw zone and only get a manifest")
    folder: str = Field("arrival_date={date}", description="one day's delivery below uri; {date} is YYYY-MM-DD, "
                                                           "{yyyymmdd} is YYYYMMDD")
    pattern: str = Field("*", description="glob of the files to pull from the day's folder")
    required: bool = Field(False, description="a missing delivery fails the extract (and is retried) instead of "
                                              "being recorded as empty")

    @field_validator("folder")
    @classmethod
    def _known_placeholders(cls, v: str) -> str:
        try:
            v.format(date="2026-01-05", yyyymmdd="20260105")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{date}} and {{yyyymmdd}} may appear in braces ({exc})") from None
        return v


class LandingsConfig(_Strict):
    clickstream: LandingConfig = LandingConfig()
    crm_customers: LandingConfig = LandingConfig()
    crm_activities: LandingConfig = LandingConfig()
    calls: LandingConfig = LandingConfig()


class CrmSqlConfig(_Strict):
    enabled: bool = Field(False, description="pull crm_customers from a SQL database instead of landed files")
    conn_id: str | None = Field("journeys_crm", description="Airflow connection of the database (inside Airflow)")
    url_env: str = Field("JOURNEYS_CRM_URL", description="environment variable holding a SQLAlchemy URL; "
                                                         "wins over conn_id; never put the URL in this file")
    table: str = Field("crm_customers", pattern=r"^[A-Za-z_][A-Za-z0-9_$]*$", description="table or view to read")
    db_schema: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_$]*$", description="its schema (default: "
                                                                                           "the connection's)")
    columns: dict[str, str] = Field(default_factory=dict, description="contract column -> database column, "
                                                                      "where the names differ")
    fetch_rows: int = Field(10_000, ge=100, description="rows fetched per round trip")


class ExtractConfig(_Strict):
    landing: LandingsConfig = LandingsConfig()
    crm_sql: CrmSqlConfig = CrmSqlConfig()


Config.model_rebuild()  # Config names ExtractConfig before it is defined

