"""Typed source rows -> the canonical event model (and CRM customer records).

One function per source. Each keeps the row's `_problem`, adds the source's own
semantic checks, and selects exactly the columns of the `events` contract (plus the
bookkeeping columns the classify step needs), so the select is the schema contract.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import table_contract
from jobs.normalize.parse import EXTRAS, PROBLEM
from jobs.normalize.pii import hmac_sha256, normalize_email, normalize_phone
from jobs.normalize.typed import add_check

BOOKKEEPING = ["value", "raw_bytes", PROBLEM]
CHANNELS = table_contract("events").column("channel").allowed_values


@dataclass(frozen=True)
class MappingContext:
    arrival_date: date
    reporting_timezone: str
    max_lateness_days: int
    future_tolerance_minutes: int
    min_event_date: date
    clock_skew_tolerance_seconds: int
    phone_country_code: str
    phone_national_length: int
    phone_trunk_prefix: str


def _event_id(source: str, source_event_id: Column) -> Column:
    return F.sha2(F.concat_ws("|", F.lit(source), source_event_id), 256)


def _text_map(**cols: Column) -> Column:
    """map<string,string> of the given columns, without null values."""
    pairs = [x for name, c in cols.items() for x in (F.lit(name), c.cast("string"))]
    return F.map_filter(F.create_map(*pairs), lambda k, v: v.isNotNull())


def _iso(ts: Column) -> Column:
    return F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")


def _phone_hash(raw: Column, ctx: MappingContext) -> Column:
    return hmac_sha256(normalize_phone(raw, ctx.phone_country_code, ctx.phone_national_length, ctx.phone_trunk_prefix))


def _finish(typed: DataFrame, ctx: MappingContext, **columns: Column) -> DataFrame:
    """Select the events contract from the given columns (the others are typed nulls), then
    add event and arrival dates and the checks every source shares."""
    contract = table_contract("events")
    provided = {**columns, "source_file": F.col("source_file"), "source_line": F.col("source_line")}
    unknown = set(provided) - set(contract.column_names)
    assert not unknown, f"not in the events contract: {unknown}"
    df = typed.select(
        *[provided.get(c.name, F.lit(None).cast(c.type)).alias(c.name)
          for c in contract.columns if c.name not in ("event_date", "arrival_date")],
        *BOOKKEEPING,
    )
    local_date = F.to_date(F.from_utc_timestamp(F.col("event_at"), ctx.reporting_timezone))
    df = df.withColumn("event_date", local_date).withColumn("arrival_date", F.lit(ctx.arrival_date))
    df = add_check(
        df,
        F.col("event_at") < F.lit(ctx.min_event_date),
        "TIMESTAMP_OUT_OF_RANGE",
        F.concat(F.lit("event time "), _iso(F.col("event_at")), F.lit(f" is before {ctx.min_event_date}")),
    )
    df = add_check(
        df,
        F.col("event_at") > F.col("received_at") + F.expr(f"INTERVAL {ctx.future_tolerance_minutes} MINUTES"),
        "TIMESTAMP_OUT_OF_RANGE",
        F.concat(F.lit("event time "), _iso(F.col("event_at")), F.lit(" is after it was received at "),
                 _iso(F.col("received_at"))),
    )
    df = add_check(
        df,
        F.datediff(F.col("arrival_date"), F.col("event_date")) > ctx.max_lateness_days,
        "LATE_BEYOND_WINDOW",
        F.format_string(f"event date %s arrived %d days later (limit {ctx.max_lateness_days})",
                        F.col("event_date").cast("string"), F.datediff(F.col("arrival_date"), F.col("event_date"))),
    )
    return df.select(*contract.column_names, *BOOKKEEPING)


def clickstream_events(typed: DataFrame, ctx: MappingContext) -> DataFrame:
    """Collector NDJSON. Event time is corrected for device clock skew the Segment way:
    received_at - (sent_at - client_ts), used only when the device clock is off by more
    than the tolerance, because network delay alone should not move events."""
    client, sent, received = F.col("client_ts"), F.col("sent_at"), F.col("received_at")
    offset_us = F.unix_micros(sent) - F.unix_micros(received)
    skewed = sent.isNotNull() & (F.abs(offset_us) > ctx.clock_skew_tolerance_seconds * 1_000_000)
    in_future_unsent = sent.isNull() & (
        client > received + F.expr(f"INTERVAL {ctx.future_tolerance_minutes} MINUTES"))
    event_at = (
        F.when(skewed, F.timestamp_micros(F.unix_micros(client) - offset_us))
        .when(in_future_unsent, received)
        .otherwise(client)
    )
    device = F.lower(F.col("device_type"))
    channel = F.when(device == "app", "app").otherwise("web")
    attributes = F.map_concat(
        F.coalesce(F.col("_json.properties"), F.create_map().cast("map<string,string>")),
        F.col(EXTRAS),
        _text_map(user_agent=F.col("user_agent"), page_url=F.col("page_url"),
                  client_ts=_iso(client), sent_at=_iso(sent)),
    )
    return _finish(
        typed, ctx,
        event_id=_event_id("clickstream", F.col("event_id")),
        source=F.lit("clickstream"),
        source_event_id=F.col("event_id"),
        channel=channel,
        event_type=F.col("event_type"),
        touchpoint=F.concat(channel, F.lit(":"), F.coalesce(F.col("page_path"), F.lit("/"))),
        event_at=event_at,
        received_at=received,
        anonymous_id=F.col("anonymous_id"),
        user_id=F.col("user_id"),
        device_type=device,
        **{c: F.col(c) for c in ("page_path", "element_id", "referrer", "utm_source", "utm_medium", "utm_campaign")},
        attributes=attributes,
        is_clock_skew_corrected=skewed | in_future_unsent,
    )


def export_events(typed: DataFrame, ctx: MappingContext) -> DataFrame:
    """Bring-your-own flat export: no received time, so event time is trusted as given;
    without an event id, the row's content is the id, so identical re-exports dedupe."""
    content_key = F.sha2(F.concat_ws("|", "user_id", "anonymous_id", "session_id", "event_name",
                                     _iso(F.col("event_at")), "page_path", "element_id"), 256)
    source_event_id = F.coalesce(F.col("event_id"), content_key)
    device = F.lower(F.col("device_type"))
    channel = F.when(device == "app", "app").otherwise("web")
    return _finish(
        typed, ctx,
        event_id=_event_id("clickstream", source_event_id),
        source=F.lit("clickstream"),
        source_event_id=source_event_id,
        channel=channel,
        event_type=F.lower(F.regexp_replace(F.trim(F.col("event_name")), r"[ .:\-]+", "_")),
        touchpoint=F.concat(channel, F.lit(":"), F.coalesce(F.col("page_path"), F.lit("/"))),
        event_at=F.col("event_at"),
        received_at=F.col("event_at"),
        anonymous_id=F.col("anonymous_id"),
        user_id=F.col("user_id"),
        session_hint=F.col("session_id"),
        device_type=device,
        page_path=F.col("page_path"),
        element_id=F.col("element_id"),
        attributes=F.col(EXTRAS),
        is_clock_skew_corrected=F.lit(False),
    )


def activity_events(typed: DataFrame, ctx: MappingContext) -> DataFrame:
    """CRM activities. One row is one lifecycle state: an order is placed; a case,
    complaint or return is opened, or closed once closed_at is filled. Re-deliveries
    of the same state are duplicates; the closing delivery is a new event."""
    typed = add_check(typed, F.col("closed_at") < F.col("opened_at"), "INVALID_VALUE",
                      F.concat(F.lit("closed_at "), _iso(F.col("closed_at")), F.lit(" precedes opened_at "),
                               _iso(F.col("opened_at"))))
    kind = F.col("activity_type")
    is_closed = F.col("closed_at").isNotNull() & (kind != "order")
    state = F.when(kind == "order", "placed").when(is_closed, "closed").otherwise("opened")
    source_event_id = F.concat_ws(":", F.col("activity_id"), state)
    return _finish(
        typed, ctx,
        event_id=_event_id("crm", source_event_id),
        source=F.lit("crm"),
        source_event_id=source_event_id,
        channel=F.when(F.col("channel").isin(*CHANNELS), F.col("channel")).otherwise("crm"),
        event_type=F.when(kind == "order", "order").otherwise(F.concat(kind, F.lit("_"), state)),
        touchpoint=F.concat_ws(":", F.lit("crm"), kind, F.col("category")),
        event_at=F.when(is_closed, F.col("closed_at")).otherwise(F.col("opened_at")),
        received_at=F.col("updated_at"),
        customer_id=F.col("customer_id"),
        amount=F.col("amount"),
        csat_score=F.col("csat_score"),
        attributes=F.map_concat(F.col(EXTRAS), _text_map(
            activity_id=F.col("activity_id"), category=F.col("category"), status=F.col("status"),
            channel=F.col("channel"), opened_at=_iso(F.col("opened_at")), closed_at=_iso(F.col("closed_at")))),
        is_clock_skew_corrected=F.lit(False),
    )


def call_events(typed: DataFrame, ctx: MappingContext) -> DataFrame:
    """Call detail records: the event is the call's start; the record is written at its end."""
    typed = add_check(typed, F.col("ended_at") < F.col("started_at"), "INVALID_VALUE",
                      F.concat(F.lit("ended_at "), _iso(F.col("ended_at")), F.lit(" precedes started_at "),
                               _iso(F.col("started_at"))))
    return _finish(
        typed, ctx,
        event_id=_event_id("calls", F.col("call_id")),
        source=F.lit("calls"),
        source_event_id=F.col("call_id"),
        channel=F.lit("phone"),
        event_type=F.when(F.col("direction") == "inbound", "call").otherwise("outbound_call"),
        touchpoint=F.concat(F.lit("call:"), F.coalesce(F.col("queue"), F.lit("unknown"))),
        event_at=F.col("started_at"),
        received_at=F.col("ended_at"),
        customer_id=F.col("customer_id"),
        phone_hash=_phone_hash(F.col("caller_number"), ctx),
        nps_score=F.col("survey_nps"),
        ces_score=F.col("survey_ces"),
        attributes=F.map_concat(F.col(EXTRAS), _text_map(
            direction=F.col("direction"), queue=F.col("queue"), answered_at=_iso(F.col("answered_at")),
            ended_at=_iso(F.col("ended_at")), wait_seconds=F.col("wait_seconds"),
            talk_seconds=F.col("talk_seconds"), transfers=F.col("transfers"),
            disposition=F.col("disposition"), reason_code=F.col("reason_code"))),
        is_clock_skew_corrected=F.lit(False),
    )


def customer_records(typed: DataFrame, ctx: MappingContext) -> DataFrame:
    """CRM customer versions with PII replaced by keyed hashes."""
    email = normalize_email(F.col("email"))
    phone = normalize_phone(F.col("phone"), ctx.phone_country_code, ctx.phone_national_length, ctx.phone_trunk_prefix)
    full_name = F.lower(F.trim(F.concat_ws(" ", F.trim(F.col("first_name")), F.trim(F.col("last_name")))))
    df = typed.select(
        "customer_id",
        hmac_sha256(email).alias("email_hash"),
        hmac_sha256(phone).alias("phone_hash"),
        hmac_sha256(F.when(full_name != "", full_name)).alias("name_hash"),
        email.isNotNull().alias("has_valid_email"),
        phone.isNotNull().alias("has_valid_phone"),
        "web_user_id", "segment", "region", "created_at", "updated_at",
        F.col(EXTRAS).alias("attributes"),
        "source_file", "source_line",
        F.lit(ctx.arrival_date).alias("arrival_date"),
        *BOOKKEEPING,
    )
    return df.select(*table_contract("crm_customers").column_names, *BOOKKEEPING)
