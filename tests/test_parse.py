"""Raw lines -> typed rows with the right reason for every kind of bad row."""
from datetime import datetime

import pytest
from pyspark.sql import functions as F

from jobs.contracts import raw_contract
from jobs.normalize.parse import group_headers, parse_csv_lines, parse_json_lines, read_header
from jobs.normalize.typed import apply_contract

MIN_TS, MAX_TS = datetime(2000, 1, 1), datetime(2026, 1, 8)


def _lines(spark, values, file="arrival_date=2026-01-05/f"):
    rows = [(file, i + 1, v, len(v.encode("utf-8", "surrogatepass"))) for i, v in enumerate(values)]
    return spark.createDataFrame(rows, "source_file string, source_line long, value string, raw_bytes long")


def _reasons(df):
    return [r.code for r in df.orderBy("source_line").select(F.col("_problem.code").alias("code")).collect()]


GOOD = ('{"event_id":"e1","anonymous_id":"a1","event_type":"page_view","page_path":"/x",'
        '"client_ts":"2026-01-05T10:15:30.123+01:00","sent_at":"2026-01-05T10:15:31.000+01:00",'
        '"received_at":"2026-01-05T09:15:31.500Z","properties":{"k":"v","n":3,"o":{"a":1}},"app_version":"2.1"}')


def test_json_lines_reasons(spark):
    contract = raw_contract("clickstream_events")
    lines = [
        GOOD,
        GOOD[:60],                                                       # truncated
        "[1, 2, 3]",                                                     # not an object
        GOOD.replace('"event_id":"e1",', ""),                            # missing id
        GOOD.replace('"event_type":"page_view"', '"event_type":{"x":1}'),  # nested where scalar belongs
        GOOD.replace('"properties":{"k":"v","n":3,"o":{"a":1}}', '"properties":"k=v"'),
        GOOD.replace("2026-01-05T10:15:30.123+01:00", "yesterday"),
        GOOD.replace("2026-01-05T09:15:31.500Z", "9999-12-31T00:00:00Z"),  # collector clock: bounded
        GOOD.replace('"page_view"', '"Page View!"'),
        GOOD.replace('"e1"', '"e\u0000"'),
        "x" * 2000,
        GOOD.replace("2026-01-05T10:15:30.123+01:00", "1767604530123"),  # epoch millis as text
        GOOD.replace('"2026-01-05T10:15:30.123+01:00"', "1767604530123"),  # epoch millis as a number
        GOOD.replace('"e1"', "12345"),                                   # numeric id is read as text
        GOOD.replace('"/x"', '"{not nested}"'),                           # text that only looks nested
        GOOD.replace('"/x"', '["/x"]'),                                  # an array where text belongs
        GOOD.replace('"properties":{"k":"v","n":3,"o":{"a":1}}', '"properties":null'),
        "\ufeff" + GOOD.replace(',"app_version":"2.1"', ""),            # a BOM, no extra field
        GOOD.replace('"properties":{"k":"v","n":3,"o":{"a":1}}', '"properties":[1]'),
    ]
    staged = parse_json_lines(_lines(spark, lines), contract, max_record_bytes=1024)
    typed = apply_contract(staged, contract, "UTC", MIN_TS, MAX_TS)
    assert _reasons(typed) == [
        None, "MALFORMED_JSON", "MALFORMED_JSON", "MISSING_REQUIRED_FIELD", "INVALID_TYPE", "INVALID_TYPE",
        "INVALID_TIMESTAMP", "TIMESTAMP_OUT_OF_RANGE", "INVALID_VALUE", "NUL_BYTE", "RECORD_TOO_LARGE",
        None, None, None,
        None, "INVALID_TYPE", None, None, "INVALID_TYPE",
    ]
    first = typed.where("source_line = 1").first()
    assert first.client_ts == datetime(2026, 1, 5, 9, 15, 30, 123000)
    assert first._extras == {"app_version": "2.1"}
    assert first._json.properties == {"k": "v", "n": "3", "o": '{"a":1}'}
    epoch_rows = typed.where("source_line in (12, 13)").select("client_ts").collect()
    assert {r.client_ts for r in epoch_rows} == {datetime(2026, 1, 5, 9, 15, 30, 123000)}
    assert typed.where("source_line = 14").first().event_id == "12345"
    assert typed.where("source_line = 15").first().page_path == "{not nested}"
    details = {r.source_line: r.detail for r in typed.select("source_line", "_problem.detail").collect()}
    assert details[16] == "page_path must be a string, got array"
    assert details[19] == "properties must be a JSON object, got array<bigint>"
    bom = typed.where("source_line = 18").first()
    assert (bom.event_id, bom._extras) == ("e1", {})


def test_invalid_utf8_is_its_own_reason(spark):
    contract = raw_contract("clickstream_events")
    # Latin-1 bytes reach Spark undecoded; build such a line in the JVM
    df = spark.createDataFrame([("arrival_date=2026-01-05/f", 1, 10)], "source_file string, source_line long, raw_bytes long")
    df = df.withColumn("value", F.decode(F.unhex(F.lit("7B2265223A22E9227D")), "UTF-8"))
    df = df.withColumn("value", F.expr("cast(unhex('7B2265223A22E9227D') as string)"))
    staged = parse_json_lines(df, contract, 1024)
    assert _reasons(staged) == ["INVALID_ENCODING"]


def test_csv_header_mapping_and_row_reasons(spark):
    contract = raw_contract("call_logs")
    header = "\ufeffcall_id,caller_number,customer_id,direction,queue,started_at,answered_at,ended_at,wait_seconds,talk_seconds,transfers,disposition,reason_code,survey_nps,survey_ces,site"
    good = 'c1,(312) 555-0142,C9,inbound,billing,2026-01-05 09:00:00,2026-01-05 09:01:00,2026-01-05 09:10:00,60,540,0,resolved,"bill, late",9,6,chicago'
    rows = [
        good,
        "c2,x,C9,inbound",                                           # short
        good + ",extra",                                             # long
        good.replace("c1,", ",", 1),                                 # missing id
        good.replace(",60,", ",n/a,"),                               # not an integer
        good.replace(",540,", ",-5,"),                               # negative duration
        good.replace("resolved", "dropped"),                         # not an allowed value
        good.replace("2026-01-05 09:00:00", "2026-02-30 09:00:00"),  # impossible date
        good.replace(',"bill, late",', ',"bill, late,'),             # unbalanced quote
        good.replace(",9,6,", ",11,6,"),                             # NPS above 10
    ]
    lines = _lines(spark, [header] + rows, file="arrival_date=2026-01-05/calls.csv")
    groups = group_headers([("arrival_date=2026-01-05/calls.csv", header)], ",", {})
    assert len(groups) == 1 and groups[0].names[0] == "call_id"
    staged = parse_csv_lines(lines.where("source_line > 1"), groups[0], contract, ",", 1_000_000)
    typed = apply_contract(staged, contract, "America/Chicago", MIN_TS, MAX_TS)
    assert _reasons(typed) == [
        None, "WRONG_COLUMN_COUNT", "WRONG_COLUMN_COUNT", "MISSING_REQUIRED_FIELD", "INVALID_TYPE",
        "INVALID_VALUE", "INVALID_VALUE", "INVALID_TIMESTAMP", "MALFORMED_CSV", "INVALID_VALUE",
    ]
    first = typed.where("source_line = 2").first()
    assert first.started_at == datetime(2026, 1, 5, 15, 0)  # 09:00 Chicago (CST, UTC-6) is 15:00 UTC
    assert first.reason_code == "bill, late"
    assert first.wait_seconds == 60 and first._extras == {"site": "chicago"}


def test_csv_missing_required_column_quarantines_the_file(spark):
    contract = raw_contract("crm_customers")
    header = "email,phone,segment,created_at,updated_at"
    lines = _lines(spark, [header, "a@b.co,1,consumer,2026-01-01 00:00:00,2026-01-01 00:00:00"])
    group = group_headers([("arrival_date=2026-01-05/f", header)], ",", {})[0]
    staged = parse_csv_lines(lines.where("source_line > 1"), group, contract, ",", 1_000_000)
    row = staged.first()
    assert row._problem.code == "MISSING_COLUMN" and "customer_id" in row._problem.detail


def test_column_mapping_renames_export_columns():
    names = read_header("UserID;Event Name;ts;Browser", ";", {"user_id": "UserID", "event_name": "Event Name",
                                                               "event_at": "ts"})
    assert names == ("user_id", "event_name", "event_at", "browser")


@pytest.mark.parametrize("text,tz,expected", [
    ("2026-03-08 01:30:00", "America/Chicago", datetime(2026, 3, 8, 7, 30)),    # CST
    ("2026-03-08 03:30:00", "America/Chicago", datetime(2026, 3, 8, 8, 30)),    # CDT after the DST jump
    ("2026-01-05T10:00:00+0530", "UTC", datetime(2026, 1, 5, 4, 30)),
    ("2026-01-05T10:00:00Z", "America/Chicago", datetime(2026, 1, 5, 10, 0)),
    ("1767607200", "UTC", datetime(2026, 1, 5, 10, 0)),
    ("1767607200123", "UTC", datetime(2026, 1, 5, 10, 0, 0, 123000)),
    ("2026-01-05T10:00:00.5-05:00", "Asia/Tokyo", datetime(2026, 1, 5, 15, 0, 0, 500000)),
    ("2026-01-05T10:00:00+05", "UTC", datetime(2026, 1, 5, 5, 0)),
    ("2026-01-05T10:00:00-0000", "America/Chicago", datetime(2026, 1, 5, 10, 0)),
    (" 2026-01-05T10:00:00Z ", "America/Chicago", datetime(2026, 1, 5, 10, 0)),
    ("2026-01-05", "America/Chicago", datetime(2026, 1, 5, 6, 0)),   # a date ends in "-05", not an offset
    ("2026-01-13", "Asia/Tokyo", datetime(2026, 1, 12, 15, 0)),
    ("2026-13-45T10:00:00Z", "UTC", None),
    ("12345", "UTC", None),
    ("99999999999999", "UTC", None),
    ("Z", "UTC", None),
    ("", "UTC", None),
])
def test_timestamp_forms(spark, text, tz, expected):
    from jobs.normalize.typed import parse_timestamp
    got = spark.createDataFrame([(text,)], "t string").select(parse_timestamp(F.col("t"), tz).alias("ts")).first()
    assert got.ts == expected


CALL_HEADER = ("call_id,caller_number,customer_id,direction,queue,started_at,answered_at,ended_at,wait_seconds,"
               "talk_seconds,transfers,disposition,reason_code,survey_nps,survey_ces")
CALL_ROW = ("c1,(312) 555-0142,C9,inbound,billing,2026-01-05 09:00:00,2026-01-05 09:01:00,2026-01-05 09:10:00,"
            "60,540,0,resolved,invoice,9,6")


def _typed_csv(spark, contract_name, header, rows, tz="UTC"):
    contract = raw_contract(contract_name)
    lines = _lines(spark, [header] + rows, file="arrival_date=2026-01-05/f.csv")
    group = group_headers([("arrival_date=2026-01-05/f.csv", header)], ",", {})[0]
    staged = parse_csv_lines(lines.where("source_line > 1"), group, contract, ",", 1_000_000)
    return apply_contract(staged, contract, tz, MIN_TS, MAX_TS)


def test_long_quoted_csv_field_does_not_stop_spark(spark):
    # Regression: the field count used the regex "(?:[^"]|"")*", which Java evaluates recursively,
    # once per character: a quoted field of 200 KB overflowed the executor's stack, and Spark shut the
    # whole context down. The count now splits on the quote character.
    text = ('a "quoted", text ' * 12_000)[:200_000] + "end"
    field = '"' + text.replace('"', '""') + '"'
    good = CALL_ROW.replace(",invoice,", f",{field},")
    rows = [good, good.replace(",resolved,", ",resolved,extra,"), good.replace(",9,6", ",9")]
    typed = _typed_csv(spark, "call_logs", CALL_HEADER, rows, tz="America/Chicago")
    assert _reasons(typed) == [None, "WRONG_COLUMN_COUNT", "WRONG_COLUMN_COUNT"]
    details = [r.detail for r in typed.orderBy("source_line").select("_problem.detail").collect()]
    assert details[1:] == ["16 fields, header has 15", "14 fields, header has 15"]
    assert typed.where("source_line = 2").first().reason_code == text


def test_utf16_lines_are_a_wrong_encoding_and_nul_runs_are_nul_bytes(spark):
    contract = raw_contract("clickstream_events")
    le, be = GOOD.encode("utf-16-le").decode(), GOOD.encode("utf-16-be").decode()  # ASCII + NULs: valid UTF-8
    lines = [
        le,                        # UTF-16-LE line
        be,                        # UTF-16-BE line
        "\u0000" + le,             # a UTF-16 file's later line starts with its newline's NUL
        "\u0000",                  # what is left after a UTF-16 file's last newline
        "\u0000" * 64,             # a zero-filled block (a crashed writer): NUL bytes, not an encoding
        GOOD.replace('"e1"', '"e\u00001"'),  # one stray NUL
    ]
    staged = parse_json_lines(_lines(spark, lines), contract, max_record_bytes=100_000)
    got = [(r.code, r.detail) for r in staged.orderBy("source_line").select("_problem.*").collect()]
    utf16 = ("INVALID_ENCODING", "line looks like UTF-16 (a NUL byte in every other position)")
    nul = ("NUL_BYTE", "line contains a NUL byte")
    assert got == [utf16, utf16, utf16, utf16, nul, nul]


def test_numbers_written_as_text_in_csv(spark):
    """CSV has no types: a quoted, padded or signed "60" is the integer 60; what does not fit the
    contract's 32-bit integer or is not a finite number is INVALID_TYPE rather than a silent null."""
    rows = [CALL_ROW.replace(",60,", f",{w},") for w in ('"60"', "  60 ", "+60", "2147483647", "2147483648",
                                                          "-2147483649", "6e1", "60.0")]
    typed = _typed_csv(spark, "call_logs", CALL_HEADER, rows, tz="America/Chicago")
    assert _reasons(typed) == [None, None, None, None, "INVALID_TYPE", "INVALID_TYPE", "INVALID_TYPE", "INVALID_TYPE"]
    waits = [r.wait_seconds for r in typed.orderBy("source_line").collect()]
    assert waits == [60, 60, 60, 2147483647, None, None, None, None]
    assert typed.where("source_line = 6").first()._problem.detail == "wait_seconds is not a 32-bit integer: 2147483648"

    header = "activity_id,customer_id,activity_type,opened_at,updated_at,amount"
    amounts = ['"12.50"', "1.25e1", "1e400", "-1e999", "NaN", "Infinity"]
    rows = [f"a1,c1,order,2026-01-05 08:00:00,2026-01-05 08:00:00,{a}" for a in amounts]
    typed = _typed_csv(spark, "crm_activities", header, rows)
    assert _reasons(typed) == [None, None, "INVALID_TYPE", "INVALID_TYPE", "INVALID_TYPE", "INVALID_TYPE"]
    assert [r.amount for r in typed.orderBy("source_line").collect()][:2] == [12.5, 12.5]
    assert typed.where("source_line = 4").first()._problem.detail == "amount is not a finite number: 1e400"
