"""Canonical mapping and row outcomes on tiny in-memory frames."""
import json
from datetime import date, datetime, timezone

from pyspark.sql import functions as F

from jobs.contracts import raw_contract, table_contract
from jobs.normalize import canonical, classify
from jobs.normalize.parse import group_headers, parse_csv_lines, parse_json_lines
from jobs.normalize.pii import drop_key, PiiKey, with_key
from jobs.normalize.typed import apply_contract
from jobs.pipeline import mapping_context

UTC = timezone.utc
MIN_TS, MAX_TS = datetime(2000, 1, 1, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)
KEY = PiiKey(b"unit-test-key-0123456789")


def _lines(spark, values, file):
    rows = [(file, i + 1, v, len(v.encode())) for i, v in enumerate(values)]
    return spark.createDataFrame(rows, "source_file string, source_line long, value string, raw_bytes long")


def _click(event_id, client, received, sent=None, **extra):
    doc = {"event_id": event_id, "anonymous_id": "a1", "event_type": "page_view", "page_path": "/p",
           "client_ts": client, "received_at": received, **extra}
    if sent:
        doc["sent_at"] = sent
    return json.dumps(doc)


def _clickstream(spark, config, lines, arrival=date(2026, 1, 10), history=None, file="arrival_date=2026-01-10/c.ndjson"):
    contract = raw_contract("clickstream_events")
    typed = apply_contract(parse_json_lines(_lines(spark, lines, file), contract, 10_000), contract, "UTC", MIN_TS, MAX_TS)
    mapped = drop_key(canonical.clickstream_events(with_key(typed, spark, KEY), mapping_context(config, arrival)))
    return classify.classify_events(mapped, classify.repeated_copies(mapped, history))


def test_skew_correction_and_lateness(spark, base_config):
    lines = [
        # device clock 5 hours fast: corrected back to received - (sent - client)
        _click("skewed", "2026-01-10T15:00:00Z", "2026-01-10T10:00:02Z", sent="2026-01-10T15:00:01Z"),
        # small network delay: left alone
        _click("ontime", "2026-01-10T09:00:00Z", "2026-01-10T09:00:01.500Z", sent="2026-01-10T09:00:01Z"),
        # offline device, 2 days late: within the 3-day window, lands on its own event date
        _click("late", "2026-01-08T12:00:00Z", "2026-01-10T08:00:00Z", sent="2026-01-10T07:59:59Z"),
        # 5 days late: beyond the window
        _click("too-late", "2026-01-05T12:00:00Z", "2026-01-10T08:00:00Z", sent="2026-01-10T07:59:59Z"),
        # no sent_at and a clock in the future: received_at is the best we know
        _click("future", "2026-01-11T12:00:00Z", "2026-01-10T08:00:00Z"),
    ]
    rows = {r.source_event_id: r for r in _clickstream(spark, base_config, lines).collect()}
    assert rows["skewed"].event_at == datetime(2026, 1, 10, 10, 0, 1) and rows["skewed"].is_clock_skew_corrected
    assert rows["ontime"].event_at == datetime(2026, 1, 10, 9, 0) and not rows["ontime"].is_clock_skew_corrected
    assert rows["late"].event_date == date(2026, 1, 8) and rows["late"]._outcome == "out"
    assert rows["too-late"]._outcome == "quarantined" and rows["too-late"]._problem.code == "LATE_BEYOND_WINDOW"
    assert rows["future"].event_at == datetime(2026, 1, 10, 8, 0) and rows["future"].is_clock_skew_corrected
    assert {r.arrival_date for r in rows.values()} == {date(2026, 1, 10)}


def test_raw_line_is_kept_for_quarantined_rows_only(spark, base_config):
    lines = [
        _click("ok", "2026-01-10T09:00:00Z", "2026-01-10T09:00:01Z"),
        _click("ok", "2026-01-10T09:00:00Z", "2026-01-10T09:00:02Z"),  # a later copy: duplicate
        _click("too-late", "2026-01-05T12:00:00Z", "2026-01-10T08:00:00Z"),  # quarantined after typing
        '{"event_id": "broken"',  # quarantined while parsing
    ]
    classified = classify.raw_only_where_quarantined(_clickstream(spark, base_config, lines))
    raw = {r.source_line: (r._outcome, r.value) for r in classified.collect()}
    assert raw == {1: ("out", None), 2: ("duplicate", None), 3: ("quarantined", lines[2]),
                   4: ("quarantined", lines[3])}
    quarantine = classify.quarantined(classified, "clickstream", date(2026, 1, 10)).collect()
    assert sorted((r.reason_code, r.raw_record) for r in quarantine) == sorted(
        [("LATE_BEYOND_WINDOW", lines[2]), ("MALFORMED_JSON", lines[3])])


def test_earliest_received_copy_wins_and_history_counts(spark, base_config):
    lines = [
        _click("dup", "2026-01-10T09:00:00Z", "2026-01-10T09:00:09Z", properties={"copy": "second"}),
        _click("dup", "2026-01-10T09:00:00Z", "2026-01-10T09:00:01Z", properties={"copy": "first"}),
        _click("dup", "2026-01-10T09:00:00Z", "2026-01-10T09:00:01Z", properties={"copy": "tie-later-line"}),
        _click("seen-before", "2026-01-09T23:00:00Z", "2026-01-10T00:00:01Z"),
        _click("fresh", "2026-01-10T09:00:00Z", "2026-01-10T09:00:01Z"),
    ]
    history = spark.createDataFrame([(canonical_id("seen-before"),)], "event_id string")
    out = _clickstream(spark, base_config, lines, history=history)
    kept = out.where("_outcome = 'out'").select("source_event_id", F.col("attributes")["copy"].alias("copy")).collect()
    assert sorted((r.source_event_id, r.copy) for r in kept) == [("dup", "first"), ("fresh", None)]
    outcomes = [r._outcome for r in out.orderBy("source_line").collect()]
    assert outcomes == ["duplicate", "out", "duplicate", "duplicate", "out"]
    assert classify.accepted(out, "events").columns == table_contract("events").column_names


def canonical_id(source_event_id):
    import hashlib
    return hashlib.sha256(f"clickstream|{source_event_id}".encode()).hexdigest()


def test_event_ids_are_content_hashes(spark, base_config):
    line = _click("e-42", "2026-01-10T09:00:00Z", "2026-01-10T09:00:01Z")
    row = _clickstream(spark, base_config, [line]).first()
    assert row.event_id == canonical_id("e-42")


def _csv(spark, config, contract_name, mapper, header, rows, tz="UTC", arrival=date(2026, 1, 10)):
    contract = raw_contract(contract_name)
    file = f"arrival_date={arrival}/f.csv"
    lines = _lines(spark, [header] + rows, file)
    group = group_headers([(file, header)], ",", {})[0]
    typed = apply_contract(parse_csv_lines(lines.where("source_line > 1"), group, contract, ",", 10_000),
                           contract, tz, MIN_TS, MAX_TS)
    return drop_key(mapper(with_key(typed, spark, KEY), mapping_context(config, arrival)))


ACT_HEADER = "activity_id,customer_id,activity_type,channel,category,amount,status,opened_at,closed_at,csat_score,updated_at"


def test_activity_lifecycle_states(spark, base_config):
    rows = [
        "A1,C1,case,phone,billing,,open,2026-01-09 10:00:00,,,2026-01-09 10:00:00",
        "A1,C1,case,phone,billing,,closed,2026-01-09 10:00:00,2026-01-10 08:00:00,2,2026-01-10 08:00:00",
        "O7,C1,order,web,shoes,59.90,paid,2026-01-10 07:00:00,,,2026-01-10 07:00:05",
        "A2,C2,complaint,carrier-pigeon,delivery,,open,2026-01-10 06:00:00,,,2026-01-10 06:00:00",
        "A3,C2,case,phone,billing,,closed,2026-01-10 06:00:00,2026-01-10 05:00:00,,2026-01-10 06:00:00",
    ]
    mapped = _csv(spark, base_config, "crm_activities", canonical.activity_events, ACT_HEADER, rows)
    out = {r.source_event_id: r for r in classify.classify_events(
        mapped, classify.repeated_copies(mapped, None)).collect()}
    assert out["A1:opened"].event_type == "case_opened" and out["A1:opened"].event_at == datetime(2026, 1, 9, 10)
    assert out["A1:closed"].event_type == "case_closed" and out["A1:closed"].csat_score == 2
    assert out["O7:placed"].event_type == "order" and out["O7:placed"].amount == 59.9
    assert out["A2:opened"].channel == "crm" and out["A2:opened"].attributes["channel"] == "carrier-pigeon"
    assert out["A3:closed"]._problem.code == "INVALID_VALUE"
    assert out["O7:placed"].touchpoint == "crm:order:shoes"


CALL_HEADER = ("call_id,caller_number,customer_id,direction,queue,started_at,answered_at,ended_at,wait_seconds,"
               "talk_seconds,transfers,disposition,reason_code,survey_nps,survey_ces")


def test_calls_are_converted_to_utc_and_hashed(spark, base_config):
    rows = ["K1,(312) 555-0142,,inbound,billing,2026-01-10 09:00:00,2026-01-10 09:02:00,2026-01-10 09:12:00,"
            "120,600,2,resolved,invoice,4,3",
            "K2,+1 312 555 0142,C5,inbound,billing,2026-01-10 09:00:00,,2026-01-09 09:12:00,,,0,abandoned,,,"]
    mapped = _csv(spark, base_config, "call_logs", canonical.call_events, CALL_HEADER, rows, tz="America/Chicago")
    out = {r.source_event_id: r for r in classify.classify_events(
        mapped, classify.repeated_copies(mapped, None), broadcast=True).collect()}
    k1 = out["K1"]
    assert k1.event_at == datetime(2026, 1, 10, 15, 0) and k1.touchpoint == "call:billing"
    assert k1.attributes["transfers"] == "2" and k1.nps_score == 4 and k1.ces_score == 3
    import hashlib, hmac
    assert k1.phone_hash == hmac.new(KEY.secret, b"+13125550142", hashlib.sha256).hexdigest()
    assert out["K2"]._problem.code == "INVALID_VALUE" and "precedes" in out["K2"]._problem.detail


CUST_HEADER = "customer_id,email,phone,first_name,last_name,web_user_id,segment,region,created_at,updated_at"


def test_customer_versions_latest_wins(spark, base_config):
    rows = [
        "C1, Alice@Example.com ,(312) 555-0142,Alice,Smith,u1,consumer,west,2026-01-01 00:00:00,2026-01-02 00:00:00",
        "C1,alice@example.com,312.555.0142,Alice,Smith,u1,small_business,west,2026-01-01 00:00:00,2026-01-09 00:00:00",
        "C2,not-an-email,12,Bob,,u2,consumer,east,2026-01-01 00:00:00,2026-01-09 00:00:00",
    ]
    mapped = _csv(spark, base_config, "crm_customers", canonical.customer_records, CUST_HEADER, rows)
    out = classify.classify_latest(mapped, "customer_id", "updated_at")
    kept = {r.customer_id: r for r in classify.accepted(out, "crm_customers").collect()}
    assert kept["C1"].segment == "small_business" and kept["C1"].has_valid_email and kept["C1"].has_valid_phone
    assert not kept["C2"].has_valid_email and kept["C2"].email_hash is None and not kept["C2"].has_valid_phone
    assert [r._outcome for r in out.orderBy("source_line").collect()] == ["duplicate", "out", "out"]
    versions = {r.email_hash for r in out.where("customer_id = 'C1'").collect()}
    assert len(versions) == 1  # the same email in two spellings hashes the same
