"""Seeded generator of raw rows that are malformed in known ways, for the fuzz tests.

Every mutation below is invalid under the contracts whatever row it is applied to,
so each mutated row must end in quarantine; valid rows around them must not.
"""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

CLICK = {"event_id": None, "anonymous_id": "anon-1", "user_id": "u-1", "event_type": "page_view",
         "page_path": "/products/p1", "device_type": "mobile", "client_ts": "2026-02-02T10:00:00.000+01:00",
         "sent_at": "2026-02-02T10:00:01.000+01:00", "received_at": "2026-02-02T09:00:01.200Z",
         "properties": {"product_id": "p1"}}
CALL_COLS = ["call_id", "caller_number", "customer_id", "direction", "queue", "started_at", "answered_at",
             "ended_at", "wait_seconds", "talk_seconds", "transfers", "disposition", "reason_code", "survey_nps",
             "survey_ces"]
CALL = ["K", "(312) 555-0142", "C1", "inbound", "billing", "2026-02-02 09:00:00", "2026-02-02 09:01:00",
        "2026-02-02 09:10:00", "60", "540", "0", "resolved", "invoice", "9", "6"]
CUST_COLS = ["customer_id", "email", "phone", "first_name", "last_name", "web_user_id", "segment", "region",
             "created_at", "updated_at"]
CUST = ["C", "a@example.com", "312-555-0142", "Ann", "Lee", "u-1", "consumer", "west", "2026-01-01 00:00:00",
        "2026-02-02 08:00:00"]
ACT_COLS = ["activity_id", "customer_id", "activity_type", "channel", "category", "amount", "status", "opened_at",
            "closed_at", "csat_score", "updated_at"]
ACT = ["A", "C1", "case", "phone", "billing", "", "open", "2026-02-02 08:00:00", "", "", "2026-02-02 08:00:00"]


def _json_mutations(rng: random.Random, doc: dict) -> tuple[bytes, str]:
    line = json.dumps(doc)
    kind = rng.choice(["truncate", "array", "scalar", "no_id", "empty_id", "nested_type", "props_string",
                       "props_array", "bad_ts", "year0", "year9999", "bad_event_type", "nul", "latin1", "utf16",
                       "huge", "wrong_delim"])
    if kind == "truncate":
        return line[: rng.randint(1, len(line) - 2)].encode(), "MALFORMED_JSON"
    if kind == "array":
        return json.dumps([doc]).encode(), "MALFORMED_JSON"
    if kind == "scalar":
        return json.dumps(rng.choice([42, "text", True, None])).encode(), "MALFORMED_JSON"
    if kind == "wrong_delim":
        return ";".join(str(v) for v in doc.values()).encode(), "MALFORMED_JSON"
    if kind == "no_id":
        return json.dumps({k: v for k, v in doc.items() if k != "event_id"}).encode(), "MISSING_REQUIRED_FIELD"
    if kind == "empty_id":
        return json.dumps({**doc, "event_id": "  "}).encode(), "MISSING_REQUIRED_FIELD"
    if kind == "nested_type":
        field = rng.choice(["event_type", "anonymous_id", "client_ts"])
        return json.dumps({**doc, field: {"nested": [1, 2]}}).encode(), "INVALID_TYPE"
    if kind == "props_string":
        return json.dumps({**doc, "properties": "k=v"}).encode(), "INVALID_TYPE"
    if kind == "props_array":
        return json.dumps({**doc, "properties": [1, 2]}).encode(), "INVALID_TYPE"
    if kind == "bad_ts":
        return json.dumps({**doc, "client_ts": rng.choice(["yesterday", "2026-13-45T99:00:00Z", "02/02/2026"])}).encode(), "INVALID_TIMESTAMP"
    if kind == "year0":
        return json.dumps({**doc, "received_at": "0000-01-01T00:00:00Z"}).encode(), "TIMESTAMP_OUT_OF_RANGE"
    if kind == "year9999":
        return json.dumps({**doc, "client_ts": "9999-12-31T23:59:59Z"}).encode(), "TIMESTAMP_OUT_OF_RANGE"
    if kind == "bad_event_type":
        return json.dumps({**doc, "event_type": "Page View!"}).encode(), "INVALID_VALUE"
    if kind == "nul":
        return line.replace('"page_view"', '"page\u0000view"').encode(), "NUL_BYTE"
    if kind == "latin1":
        return json.dumps({**doc, "page_path": "/caf\u00e9"}, ensure_ascii=False).encode("latin-1"), "INVALID_ENCODING"
    if kind == "utf16":
        return line.encode("utf-16-le"), "NUL_BYTE"
    return json.dumps({**doc, "properties": {"blob": "x" * 1_100_000}}).encode(), "RECORD_TOO_LARGE"


_CSV_TIME_COLS = {"calls": ("started_at", "ended_at"), "crm_customers": ("created_at", "updated_at"),
                  "crm_activities": ("opened_at", "updated_at")}
_CSV_ID = {"calls": "call_id", "crm_customers": "customer_id", "crm_activities": "activity_id"}


def _csv_line(values: list[str]) -> str:
    return ",".join(f'"{v}"' if "," in v or '"' in v else v for v in values)


def _csv_mutation(rng: random.Random, source: str, cols: list[str], row: list[str]) -> tuple[bytes, str]:
    kinds = ["short", "long", "no_id", "bad_ts", "year0", "year9999", "quote", "semicolons", "nul", "latin1"]
    if source == "calls":
        kinds += ["neg_wait", "neg_talk", "nps_high", "nps_text", "ended_before", "disposition", "direction"]
    if source == "crm_activities":
        kinds += ["closed_before", "bad_type", "amount_text", "csat_high"]
    kind = rng.choice(kinds)
    r = dict(zip(cols, row))
    if kind == "short":
        return _csv_line(row[: rng.randint(1, len(row) - 1)]).encode(), "WRONG_COLUMN_COUNT"
    if kind == "long":
        return _csv_line(row + ["extra"] * rng.randint(1, 3)).encode(), "WRONG_COLUMN_COUNT"
    if kind == "semicolons":
        return ";".join(row).encode(), "WRONG_COLUMN_COUNT"
    if kind == "quote":
        return (_csv_line(row[:-1]) + ',"' + row[-1]).encode(), "MALFORMED_CSV"
    if kind == "nul":
        return _csv_line(row).replace(",", ",\u0000", 1).encode(), "NUL_BYTE"
    if kind == "latin1":
        r[cols[4]] = "caf\u00e9"
        return _csv_line(list(r.values())).encode("latin-1"), "INVALID_ENCODING"
    code = "INVALID_VALUE"
    if kind == "no_id":
        r[_CSV_ID[source]], code = "", "MISSING_REQUIRED_FIELD"
    elif kind == "bad_ts":
        r[_CSV_TIME_COLS[source][0]], code = rng.choice(["2026-02-30 10:00:00", "noon", "2026/02/02"]), "INVALID_TIMESTAMP"
    elif kind == "year0":
        r[_CSV_TIME_COLS[source][0]], code = "0000-01-01 00:00:00", "TIMESTAMP_OUT_OF_RANGE"
    elif kind == "year9999":
        r[_CSV_TIME_COLS[source][1]], code = "9999-12-31 00:00:00", "TIMESTAMP_OUT_OF_RANGE"
    elif kind == "neg_wait":
        r["wait_seconds"] = "-5"
    elif kind == "neg_talk":
        r["talk_seconds"] = "-1"
    elif kind == "nps_high":
        r["survey_nps"] = "11"
    elif kind == "nps_text":
        r["survey_nps"], code = "nine", "INVALID_TYPE"
    elif kind == "ended_before":
        r["ended_at"] = "2026-02-02 08:00:00"
    elif kind == "disposition":
        r["disposition"] = "dropped"
    elif kind == "direction":
        r["direction"] = "sideways"
    elif kind == "closed_before":
        r["closed_at"] = "2026-02-01 08:00:00"
    elif kind == "bad_type":
        r["activity_type"] = "visit"
    elif kind == "amount_text":
        r["amount"], code = "12,50 EUR", "INVALID_TYPE"
    elif kind == "csat_high":
        r["csat_score"] = "6"
    return _csv_line(list(r.values())).encode(), code


def write_fuzzed_sources(raw_root: Path, arrival: str, rows_per_source: int, bad_share: float, seed: int) -> dict:
    """Write the four sources for one arrival date; return {(source, file, line): expected reason}."""
    rng = random.Random(seed)
    expected: dict[tuple[str, str, int], str] = {}

    def emit(source: str, name: str, header: str | None, make_good, make_bad, gz: bool = False):
        folder = raw_root / source / f"arrival_date={arrival}"
        folder.mkdir(parents=True, exist_ok=True)
        out = [header.encode()] if header else []
        for i in range(rows_per_source):
            if rng.random() < bad_share:
                line, reason = make_bad(i)
                expected[(source, f"arrival_date={arrival}/{name}", len(out) + 1)] = reason
            else:
                line = make_good(i)
            out.append(line)
        data = b"\n".join(out) + b"\n"
        (folder / name).write_bytes(gzip.compress(data, mtime=0) if gz else data)

    def click(i):
        return {**CLICK, "event_id": f"fz-{i}"}

    emit("clickstream", "part-0.ndjson.gz", None, lambda i: json.dumps(click(i)).encode(),
         lambda i: _json_mutations(rng, click(i)), gz=True)
    for source, name, cols, base in (("calls", "calls.csv", CALL_COLS, CALL),
                                     ("crm_customers", "customers.csv", CUST_COLS, CUST),
                                     ("crm_activities", "activities.csv", ACT_COLS, ACT)):
        def row(i, base=base):
            return [f"{base[0]}{i}", *base[1:]]
        emit(source, name, ",".join(cols), lambda i, row=row: _csv_line(row(i)).encode(),
             lambda i, row=row, source=source, cols=cols: _csv_mutation(rng, source, cols, row(i)))
    return expected
