"""Seeded generator of hostile raw input for the fuzz tests.

Every malformed row is invalid under the contracts whatever row it is applied to, so it must
end in quarantine with the reason recorded here. Hostile but valid rows (a byte-order mark,
CRLF, a number in quotes, an epoch timestamp as text) and the plain rows around them must be
kept. Files are written as bytes, so encodings, NULs and BOMs are injected byte for byte.

Per source: one main file (about half of its rows malformed, every kind of defect several
times, the kept kinds in between, one line of several MB and long quoted fields), an empty
file, a truncated gzip, a UTF-16 file and, for CSV, a file with the wrong delimiter.
"""
from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BOM = "\ufeff".encode()
CLICK = {"event_id": None, "anonymous_id": "anon-1", "user_id": "u-1", "event_type": "page_view",
         "page_path": "/products/p1", "device_type": "mobile", "client_ts": "2026-02-02T10:00:00.000+01:00",
         "sent_at": "2026-02-02T10:00:01.000+01:00", "received_at": "2026-02-02T09:00:01.200Z",
         "properties": {"product_id": "p1"}}
CLICK_EPOCH_MS = 1770022800000  # CLICK's client_ts, 2026-02-02T09:00:00Z
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

CSV_SOURCES = {  # source: (main file, columns, base row)
    "calls": ("calls.csv", CALL_COLS, CALL),
    "crm_customers": ("customers.csv", CUST_COLS, CUST),
    "crm_activities": ("activities.csv", ACT_COLS, ACT),
}
SOURCES = ("clickstream", *CSV_SOURCES)
# (first, second) timestamp column of each CSV source; epoch seconds equal to the first one's instant
_TIME_COLS = {"calls": ("started_at", "ended_at"), "crm_customers": ("created_at", "updated_at"),
              "crm_activities": ("opened_at", "updated_at")}
_EPOCH_FIRST = {"calls": "1770044400", "crm_customers": "1767225600", "crm_activities": "1770019200"}
_ID = {"calls": "call_id", "crm_customers": "customer_id", "crm_activities": "activity_id"}
_TEXT_COL = {"calls": "queue", "crm_customers": "last_name", "crm_activities": "category"}
# where a long free text goes in a kept row: attributes / a plain column, never a touchpoint
_LONG_TEXT_COL = {"calls": "reason_code", "crm_customers": "region", "crm_activities": "status"}
# several-MB lines: one per source, 3-5 MB
HUGE_LINE_BYTES = {"clickstream": 3_500_000, "calls": 4_000_000, "crm_customers": 3_000_000,
                   "crm_activities": 5_000_000}
LONG_FIELD_BYTES = 800_000   # a quoted field whose line stays just under quality.max_record_bytes
KEPT_LONG_FIELD_BYTES = 300_000

_BAD_UTF8 = [b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc", b"\xed\xa0\x80", b"\xc0\xaf", b"\xff",
             b"\xf8\x88\x80\x80\x80", b"\xe2\x82"]

# ------------------------------------------------------------------ kinds and their reasons

# What each injected kind must become. Kinds whose reason depends on the source are mapped per source.
JSON_BAD = {
    "truncated": "MALFORMED_JSON", "array_line": "MALFORMED_JSON", "scalar_line": "MALFORMED_JSON",
    "semicolon_delimited": "MALFORMED_JSON", "tab_delimited": "MALFORMED_JSON", "duplicate_key": "MALFORMED_JSON",
    "deep_nesting": "MALFORMED_JSON", "raw_newline_in_string": "MALFORMED_JSON", "bom_inside_line": "MALFORMED_JSON",
    "missing_id": "MISSING_REQUIRED_FIELD", "blank_id": "MISSING_REQUIRED_FIELD",
    "null_required": "MISSING_REQUIRED_FIELD", "empty_object": "MISSING_REQUIRED_FIELD",
    "object_for_scalar": "INVALID_TYPE", "array_for_scalar": "INVALID_TYPE", "properties_string": "INVALID_TYPE",
    "properties_array": "INVALID_TYPE", "properties_number": "INVALID_TYPE",
    "bad_timestamp": "INVALID_TIMESTAMP",
    "year_0000": "TIMESTAMP_OUT_OF_RANGE", "year_9999": "TIMESTAMP_OUT_OF_RANGE",
    "bad_event_type": "INVALID_VALUE",
    "nul_byte": "NUL_BYTE", "nul_run": "NUL_BYTE",
    "latin1": "INVALID_ENCODING", "cp1252": "INVALID_ENCODING", "invalid_utf8": "INVALID_ENCODING",
    "utf16le": "INVALID_ENCODING", "utf16be": "INVALID_ENCODING", "utf16_with_bom": "INVALID_ENCODING",
}
JSON_KEPT = ("bom_line_start", "crlf_line_end", "epoch_ms_as_string", "epoch_ms_as_number", "number_for_string_id",
             "json_whitespace", "unknown_nested_fields")
CSV_BAD_COMMON = {
    "short_row": "WRONG_COLUMN_COUNT", "long_row": "WRONG_COLUMN_COUNT", "semicolon_delimited": "WRONG_COLUMN_COUNT",
    "tab_delimited": "WRONG_COLUMN_COUNT", "pipe_delimited": "WRONG_COLUMN_COUNT",
    "unbalanced_quote": "MALFORMED_CSV", "stray_quote": "MALFORMED_CSV", "backslash_escaped_quote": "MALFORMED_CSV",
    "raw_newline_in_quotes": "MALFORMED_CSV",
    "missing_id": "MISSING_REQUIRED_FIELD",
    "bad_timestamp": "INVALID_TIMESTAMP", "object_for_timestamp": "INVALID_TIMESTAMP",
    "bom_inside_line": "INVALID_TIMESTAMP",
    "year_0000": "TIMESTAMP_OUT_OF_RANGE", "year_9999": "TIMESTAMP_OUT_OF_RANGE",
    "nul_byte": "NUL_BYTE", "nul_run": "NUL_BYTE",
    "latin1": "INVALID_ENCODING", "cp1252": "INVALID_ENCODING", "invalid_utf8": "INVALID_ENCODING",
    "utf16le": "INVALID_ENCODING", "utf16be": "INVALID_ENCODING", "utf16_with_bom": "INVALID_ENCODING",
}
# a second header mid-file (two exports concatenated, each with its BOM): its first failing column decides
_REPEATED_HEADER = {"calls": "INVALID_TYPE", "crm_customers": "INVALID_TIMESTAMP", "crm_activities": "INVALID_TYPE"}
CSV_BAD_SOURCE = {
    "calls": {
        "negative_wait_seconds": "INVALID_VALUE", "negative_talk_seconds": "INVALID_VALUE",
        "negative_transfers": "INVALID_VALUE", "ended_before_started": "INVALID_VALUE",
        "nps_above_10": "INVALID_VALUE", "ces_below_1": "INVALID_VALUE", "bad_disposition": "INVALID_VALUE",
        "bad_direction": "INVALID_VALUE",
        "word_for_integer": "INVALID_TYPE", "decimal_for_integer": "INVALID_TYPE",
        "exponent_for_integer": "INVALID_TYPE", "integer_overflow": "INVALID_TYPE",
        "object_for_integer": "INVALID_TYPE", "array_for_integer": "INVALID_TYPE",
    },
    "crm_customers": {},
    "crm_activities": {
        "closed_before_opened": "INVALID_VALUE", "bad_activity_type": "INVALID_VALUE", "csat_above_5": "INVALID_VALUE",
        "negative_amount": "INVALID_VALUE",
        "currency_in_amount": "INVALID_TYPE", "infinite_amount": "INVALID_TYPE", "nan_amount": "INVALID_TYPE",
        "decimal_for_integer": "INVALID_TYPE", "object_for_number": "INVALID_TYPE",
    },
}
CSV_KEPT_COMMON = ("bom_line_start", "crlf_line_end", "all_fields_quoted", "escaped_quotes_in_field",
                   "epoch_seconds_as_text")
CSV_KEPT_SOURCE = {"calls": ("quoted_integer", "padded_integer", "signed_integer"), "crm_customers": (),
                   "crm_activities": ("quoted_amount", "exponent_amount")}


def bad_kinds(source: str) -> dict[str, str]:
    """kind -> reason of every row-level defect injected into the source's main file."""
    if source == "clickstream":
        return dict(JSON_BAD)
    return {**CSV_BAD_COMMON, "repeated_header_with_bom": _REPEATED_HEADER[source], **CSV_BAD_SOURCE[source]}


def kept_kinds(source: str) -> tuple[str, ...]:
    return JSON_KEPT if source == "clickstream" else CSV_KEPT_COMMON + CSV_KEPT_SOURCE[source]


@dataclass
class FuzzPlan:
    """What was written and what must come of it."""
    expected: dict[tuple[str, str, int], str] = field(default_factory=dict)  # (source, file, line) -> reason
    kinds: dict[tuple[str, str, int], str] = field(default_factory=dict)     # (source, file, line) -> kind
    unreadable: dict[str, list[str]] = field(default_factory=dict)          # source -> files (one row each)
    kept: dict[str, set[str]] = field(default_factory=dict)                 # source -> ids that must come out
    kept_kinds: Counter = field(default_factory=Counter)                     # (source, kind) -> kept rows
    files: dict[str, list[str]] = field(default_factory=dict)               # source -> files written

    def malformed(self, source: str | None = None) -> int:
        return sum(1 for k in self.expected if source is None or k[0] == source)

    def kind_counts(self) -> Counter:
        return Counter((k[0], kind) for k, kind in self.kinds.items())

    def reason_counts(self, source: str) -> dict[str, int]:
        counts = Counter(r for k, r in self.expected.items() if k[0] == source)
        if self.unreadable.get(source):
            counts["UNREADABLE_FILE"] += len(self.unreadable[source])
        return dict(counts)


def split_lines(data: bytes) -> list[bytes]:
    """Lines as Hadoop's reader cuts them: at CRLF, CR or LF; no empty line after a final terminator."""
    lines = re.split(rb"\r\n|\r|\n", data)
    return lines[:-1] if lines and lines[-1] == b"" else lines


# ------------------------------------------------------------------ NDJSON rows


def _json_bad(rng: random.Random, kind: str, doc: dict) -> bytes:
    line = json.dumps(doc)
    if kind == "truncated":
        return line[: rng.randint(1, len(line) - 2)].encode()
    if kind == "array_line":
        return json.dumps([doc]).encode()
    if kind == "scalar_line":
        return rng.choice([b"42", b'"text"', b"true", b"null", b"3.5"])
    if kind == "semicolon_delimited":
        return ";".join(str(v) for v in doc.values()).encode()
    if kind == "tab_delimited":
        return line.replace(", ", "\t").encode()
    if kind == "duplicate_key":
        return (line[:-1] + ', "event_id": "again"}').encode()
    if kind == "deep_nesting":
        depth = rng.randint(5000, 6000)
        return (line[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}").encode()
    if kind == "raw_newline_in_string":
        return json.dumps({**doc, "page_path": "/a-b"}).replace("/a-b", "/a\nb").encode()
    if kind == "bom_inside_line":
        return line.replace(", ", ",\ufeff ", 1).encode()
    if kind == "missing_id":
        return json.dumps({k: v for k, v in doc.items() if k != "event_id"}).encode()
    if kind == "blank_id":
        return json.dumps({**doc, "event_id": "  "}).encode()
    if kind == "null_required":
        return json.dumps({**doc, rng.choice(["event_type", "anonymous_id", "received_at"]): None}).encode()
    if kind == "empty_object":
        return b"{}"
    if kind == "object_for_scalar":
        name = rng.choice(["event_type", "anonymous_id", "client_ts", "user_id", "page_path"])
        return json.dumps({**doc, name: {"nested": [1, 2]}}).encode()
    if kind == "array_for_scalar":
        name = rng.choice(["event_id", "page_path", "received_at", "utm_source"])
        return json.dumps({**doc, name: [1, {"a": 2}]}).encode()
    if kind == "properties_string":
        return json.dumps({**doc, "properties": "k=v"}).encode()
    if kind == "properties_array":
        return json.dumps({**doc, "properties": [1, 2]}).encode()
    if kind == "properties_number":
        return json.dumps({**doc, "properties": 5}).encode()
    if kind == "bad_timestamp":
        value = rng.choice(["yesterday", "2026-13-45T99:00:00Z", "02/02/2026", "-1", "0", "10000-01-01T00:00:00Z"])
        return json.dumps({**doc, "client_ts": value}).encode()
    if kind in ("year_0000", "year_9999"):
        # received_at is bounded as read; client_ts and sent_at (device clock) through the event time
        # they give after clock-skew correction (sent_at 0000 puts it in year 4052, 9999 before year 0)
        stamp = "0000-01-01T00:00:00Z" if kind == "year_0000" else "9999-12-31T23:59:59Z"
        return json.dumps({**doc, rng.choice(["received_at", "client_ts", "sent_at"]): stamp}).encode()
    if kind == "bad_event_type":
        return json.dumps({**doc, "event_type": rng.choice(["Page View!", "9lives", "page-view"])}).encode()
    if kind == "nul_byte":
        return line.replace('"page_view"', '"page\u0000view"').encode()
    if kind == "nul_run":
        return b"\x00" * rng.randint(16, 256)
    if kind == "latin1":
        return json.dumps({**doc, "page_path": "/caf\u00e9"}, ensure_ascii=False).encode("latin-1")
    if kind == "cp1252":
        return json.dumps({**doc, "page_path": "/\u201cquoted\u201d"}, ensure_ascii=False).encode("cp1252")
    if kind == "invalid_utf8":
        return json.dumps({**doc, "page_path": "/@@"}).encode().replace(b"@@", rng.choice(_BAD_UTF8))
    if kind == "utf16le":
        return line.encode("utf-16-le")
    if kind == "utf16be":
        return line.encode("utf-16-be")
    if kind == "utf16_with_bom":
        return line.encode("utf-16")
    raise ValueError(kind)


def _json_kept(kind: str, doc: dict, i: int) -> tuple[bytes, str]:
    """A hostile but valid line and the event id it must come out with."""
    if kind == "bom_line_start":
        return BOM + json.dumps(doc).encode(), doc["event_id"]
    if kind == "crlf_line_end":
        return json.dumps(doc).encode() + b"\r", doc["event_id"]
    if kind == "epoch_ms_as_string":  # documented: epoch milliseconds, as text or as a number
        return json.dumps({**doc, "client_ts": str(CLICK_EPOCH_MS)}).encode(), doc["event_id"]
    if kind == "epoch_ms_as_number":
        return json.dumps({**doc, "client_ts": CLICK_EPOCH_MS}).encode(), doc["event_id"]
    if kind == "number_for_string_id":  # documented: a JSON number is accepted for a string field
        return json.dumps({**doc, "event_id": 900_000_000 + i}).encode(), str(900_000_000 + i)
    if kind == "json_whitespace":
        return json.dumps(doc, separators=(" ,\t", " :  ")).encode(), doc["event_id"]
    if kind == "unknown_nested_fields":
        return json.dumps({**doc, "x_new": {"a": [1, {"b": None}]}, "x_flag": True}).encode(), doc["event_id"]
    raise ValueError(kind)


# ------------------------------------------------------------------ CSV rows


def csv_line(values: list[str], quote_all: bool = False) -> str:
    """RFC 4180: fields with a comma, quote or line break are quoted, inner quotes doubled."""
    def one(v: str) -> str:
        if quote_all or any(c in v for c in ',"\r\n'):
            return '"' + v.replace('"', '""') + '"'
        return v
    return ",".join(one(v) for v in values)


def _csv_bad(rng: random.Random, kind: str, source: str, cols: list[str], row: list[str]) -> bytes:
    r = dict(zip(cols, row))
    first_ts = _TIME_COLS[source][0]
    text_col = _TEXT_COL[source]
    if kind == "short_row":
        return csv_line(row[: rng.randint(1, len(row) - 1)]).encode()
    if kind == "long_row":
        return csv_line(row + ["extra"] * rng.randint(1, 3)).encode()
    if kind == "semicolon_delimited":
        return ";".join(row).encode()
    if kind == "tab_delimited":
        return "\t".join(row).encode()
    if kind == "pipe_delimited":
        return "|".join(row).encode()
    if kind == "unbalanced_quote":
        return (csv_line(row[:-1]) + ',"' + row[-1]).encode()
    if kind == "stray_quote":
        v = r[text_col]
        r[text_col] = v[:1] + '"' + v[1:]
        return ",".join(r.values()).encode()  # unquoted on purpose
    if kind == "backslash_escaped_quote":
        r[text_col] = '"' + r[text_col][:2] + '\\"' + r[text_col][2:] + '"'
        return ",".join(r.values()).encode()
    if kind == "raw_newline_in_quotes":  # the quoted field is cut in two lines, each with one quote
        r[text_col] = '"' + r[text_col][:2] + "\n" + r[text_col][2:] + '"'
        return ",".join(r.values()).encode()
    if kind == "repeated_header_with_bom":
        return BOM + ",".join(cols).encode()
    if kind in ("nul_byte", "nul_run", "latin1", "cp1252", "invalid_utf8", "utf16le", "utf16be", "utf16_with_bom"):
        return _encoding_defect(rng, kind, r, text_col)
    if kind == "bom_inside_line":
        r[first_ts] = "\ufeff" + r[first_ts]
        return csv_line(list(r.values())).encode()
    if kind in CSV_BAD_COMMON or kind in CSV_BAD_SOURCE[source]:
        r.update(_csv_value_defect(rng, kind, source, r))
        return csv_line(list(r.values())).encode()
    raise ValueError(kind)


def _encoding_defect(rng: random.Random, kind: str, r: dict, text_col: str) -> bytes:
    if kind == "nul_byte":
        return csv_line(list(r.values())).replace(",", ",\u0000", 1).encode()
    if kind == "nul_run":
        return b"\x00" * rng.randint(16, 256)
    if kind == "latin1":
        return csv_line(list({**r, text_col: "caf\u00e9"}.values())).encode("latin-1")
    if kind == "cp1252":
        return csv_line(list({**r, text_col: "\u201cquoted\u201d"}.values())).encode("cp1252")
    if kind == "invalid_utf8":
        return csv_line(list({**r, text_col: "x@@y"}.values())).encode().replace(b"@@", rng.choice(_BAD_UTF8))
    line = csv_line(list(r.values()))
    return line.encode({"utf16le": "utf-16-le", "utf16be": "utf-16-be", "utf16_with_bom": "utf-16"}[kind])


def _csv_value_defect(rng: random.Random, kind: str, source: str, r: dict) -> dict[str, str]:
    first_ts, second_ts = _TIME_COLS[source]
    return {
        "missing_id": {_ID[source]: ""},
        "bad_timestamp": {first_ts: rng.choice(["2026-02-30 10:00:00", "noon", "2026/02/02", "-1",
                                                "10000-01-01 00:00:00"])},
        "object_for_timestamp": {first_ts: '{"ts": "2026-02-02 09:00:00"}'},
        "year_0000": {first_ts: "0000-01-01 00:00:00"},
        "year_9999": {second_ts: "9999-12-31 23:59:59"},
        # calls
        "negative_wait_seconds": {"wait_seconds": "-5"},
        "negative_talk_seconds": {"talk_seconds": "-1"},
        "negative_transfers": {"transfers": "-2"},
        "ended_before_started": {"ended_at": "2026-02-02 08:00:00"},
        "nps_above_10": {"survey_nps": "11"},
        "ces_below_1": {"survey_ces": "0"},
        "bad_disposition": {"disposition": "dropped"},
        "bad_direction": {"direction": "sideways"},
        "word_for_integer": {"survey_nps": "nine"},
        "decimal_for_integer": {"wait_seconds": "60.0"} if source == "calls" else {"csat_score": "4.0"},
        "exponent_for_integer": {"talk_seconds": "5.4e2"},
        "integer_overflow": {"talk_seconds": "2147483648"},
        "object_for_integer": {"wait_seconds": '{"value": 60}'},
        "array_for_integer": {"transfers": "[1, 2]"},
        # activities
        "closed_before_opened": {"closed_at": "2026-02-01 08:00:00"},
        "bad_activity_type": {"activity_type": "visit"},
        "csat_above_5": {"csat_score": "6"},
        "negative_amount": {"amount": "-1.5"},
        "currency_in_amount": {"amount": "12,50 EUR"},
        "infinite_amount": {"amount": rng.choice(["1e400", "-1e999"])},
        "nan_amount": {"amount": rng.choice(["NaN", "Infinity"])},
        "object_for_number": {"amount": '{"value": 12.5}'},
    }[kind]


def _csv_kept(kind: str, source: str, cols: list[str], row: list[str]) -> bytes:
    r = dict(zip(cols, row))
    if kind == "bom_line_start":
        return BOM + csv_line(row).encode()
    if kind == "crlf_line_end":
        return csv_line(row).encode() + b"\r"
    if kind == "all_fields_quoted":
        return csv_line(row, quote_all=True).encode()
    if kind == "escaped_quotes_in_field":
        r[_LONG_TEXT_COL[source]] = 'said "urgent", twice'
        return csv_line(list(r.values())).encode()
    if kind == "epoch_seconds_as_text":
        r[_TIME_COLS[source][0]] = _EPOCH_FIRST[source]
        return csv_line(list(r.values())).encode()
    quoted = {"quoted_integer": ("wait_seconds", "60"), "quoted_amount": ("amount", "12.50")}
    if kind in quoted:  # CSV has no types: a quoted "60" is the number 60
        name, value = quoted[kind]
        return csv_line(list({**r, name: "@@"}.values())).replace("@@", f'"{value}"').encode()
    if kind == "padded_integer":
        r["wait_seconds"] = "  60 "
    elif kind == "signed_integer":
        r["wait_seconds"] = "+60"
    elif kind == "exponent_amount":
        r["amount"] = "1.25e1"
    else:
        raise ValueError(kind)
    return csv_line(list(r.values())).encode()


# ------------------------------------------------------------------ files


class _File:
    """Chunks of one raw file; each chunk may span several lines (a line break inside a record)."""

    def __init__(self, plan: FuzzPlan, source: str, rel: str, header: bytes | None):
        self.plan, self.source, self.rel = plan, source, rel
        self.chunks: list[bytes] = [header] if header is not None else []
        self.line = len(self.chunks)

    def add(self, chunk: bytes, reason: str | None = None, kind: str | None = None, kept_id: str | None = None):
        n = len(split_lines(chunk + b"\n"))
        for k in range(n):
            key = (self.source, self.rel, self.line + k + 1)
            if reason is not None:
                self.plan.expected[key] = reason
                self.plan.kinds[key] = kind
        if kept_id is not None:
            assert n == 1, kind
            self.plan.kept.setdefault(self.source, set()).add(kept_id)
            if kind is not None:
                self.plan.kept_kinds[(self.source, kind)] += 1
        self.chunks.append(chunk)
        self.line += n

    def data(self) -> bytes:
        return b"\n".join(self.chunks) + b"\n"


def _write(folder: Path, name: str, data: bytes, plan: FuzzPlan, source: str) -> None:
    (folder / name).write_bytes(data)
    plan.files.setdefault(source, []).append(name)


def _kept_id(source: str, base_id: str) -> str:
    return f"{base_id}:opened" if source == "crm_activities" else base_id  # activities come out per state


def write_fuzzed_sources(raw_root: Path, arrival: str, rows_per_source: int, bad_share: float, seed: int) -> FuzzPlan:
    """Write the four sources for one arrival date; return what must become of every row."""
    rng = random.Random(seed)
    plan = FuzzPlan()
    n_bad = round(rows_per_source * bad_share)
    for source in SOURCES:
        folder = raw_root / source / f"arrival_date={arrival}"
        folder.mkdir(parents=True, exist_ok=True)
        rel = f"arrival_date={arrival}/"
        bad = bad_kinds(source)
        kept = kept_kinds(source)
        # every kind about equally often, in random places; row 0 stays plain (the file's first line)
        positions = list(range(1, rows_per_source))
        rng.shuffle(positions)
        bad_at = {p: list(bad)[k % len(bad)] for k, p in enumerate(positions[:n_bad])}
        kept_at = {p: kept[k % len(kept)] for k, p in enumerate(positions[n_bad:n_bad + 10 * len(kept)])}
        huge_at, long_bad_at, long_kept_at = positions[-1], positions[-2], positions[-3]
        if source == "clickstream":
            main = _File(plan, source, rel + "part-0.ndjson.gz", None)
        else:
            name, cols, base = CSV_SOURCES[source]
            main = _File(plan, source, rel + name, BOM + ",".join(cols).encode())  # BOM at file start
        for i in range(rows_per_source):
            if source == "clickstream":
                # 40 devices and logins: well below the bot threshold (bots.max_events_per_day)
                doc = {**CLICK, "event_id": f"fz-{i}", "anonymous_id": f"anon-{i % 40}", "user_id": f"u-{i % 40}"}
                good, good_id = json.dumps(doc).encode(), doc["event_id"]
            else:
                row = [f"{base[0]}{i}", *base[1:]]
                good, good_id = csv_line(row).encode(), _kept_id(source, row[0])
            if i == 0 and source == "clickstream":
                main.add(BOM + good, kind="bom_file_start", kept_id=good_id)
            elif i in bad_at:
                kind = bad_at[i]
                line = (_json_bad(rng, kind, doc) if source == "clickstream"
                        else _csv_bad(rng, kind, source, cols, row))
                main.add(line, bad[kind], kind)
            elif i == huge_at:
                main.add(_huge_line(source, doc if source == "clickstream" else row), "RECORD_TOO_LARGE",
                         "line_of_several_mb")
            elif i == long_bad_at:
                line, reason = _long_field_line(source, doc if source == "clickstream" else row, bad=True)
                main.add(line, reason, "long_quoted_field")
            elif i == long_kept_at and source != "clickstream":
                line, _ = _long_field_line(source, row, bad=False)
                main.add(line, kind="long_quoted_field", kept_id=good_id)
            elif i in kept_at:
                kind = kept_at[i]
                if source == "clickstream":
                    line, kept_id = _json_kept(kind, doc, i)
                else:
                    line, kept_id = _csv_kept(kind, source, cols, row), good_id
                main.add(line, kind=kind, kept_id=kept_id)
            else:
                main.add(good, kept_id=good_id)
        data = main.data()
        main_name = main.rel.split("/", 1)[1]
        _write(folder, main_name, gzip.compress(data, mtime=0) if main_name.endswith(".gz") else data, plan, source)
        _extra_files(plan, source, folder, rel)
    return plan


def _huge_line(source: str, base) -> bytes:
    size = HUGE_LINE_BYTES[source]
    if source == "clickstream":
        return json.dumps({**base, "event_id": "huge", "properties": {"blob": "x" * size}}).encode()
    r = list(base)
    r[0] = "huge"
    r[4] = "y" * size
    return csv_line(r).encode()


def _long_field_line(source: str, base, bad: bool) -> tuple[bytes, str | None]:
    """A record just under the size limit whose long field is quoted, with commas and doubled quotes
    inside (a Java regex over such a field used to overflow the stack and stop Spark)."""
    size = LONG_FIELD_BYTES if bad else KEPT_LONG_FIELD_BYTES
    text = ('a "quoted", text ' * (size // 17 + 1))[:size]
    if source == "clickstream":
        return json.dumps({**base, "event_id": "long-bad", "page_url": text, "event_type": "Page View!"}).encode(), \
            "INVALID_VALUE"
    name, cols, _ = CSV_SOURCES[source]
    r = dict(zip(cols, base))
    r[_LONG_TEXT_COL[source]] = text
    if not bad:
        return csv_line(list(r.values())).encode(), None
    defect, reason = {"calls": ({"disposition": "dropped"}, "INVALID_VALUE"),
                      "crm_customers": ({"created_at": "noon"}, "INVALID_TIMESTAMP"),
                      "crm_activities": ({"activity_type": "visit"}, "INVALID_VALUE")}[source]
    r.update(defect)
    return csv_line(list(r.values())).encode(), reason


def _extra_files(plan: FuzzPlan, source: str, folder: Path, rel: str) -> None:
    """Empty file, truncated gzip, a whole file in UTF-16 and, for CSV, one with the wrong delimiter."""
    if source == "clickstream":
        docs = [json.dumps({**CLICK, "event_id": f"x-{i}"}) for i in range(50)]
        stem, ext, header = "part", "ndjson", None
    else:
        name, cols, base = CSV_SOURCES[source]
        docs = [csv_line([f"{base[0]}x{i}", *base[1:]]) for i in range(50)]
        stem, ext, header = name.rsplit(".", 1)[0], "csv", ",".join(cols)
    text = "\n".join(([header] if header else []) + docs) + "\n"
    # empty: no rows at all
    _write(folder, f"{stem}-2-empty.{ext}", b"", plan, source)
    # truncated gzip: the whole file is one UNREADABLE_FILE row
    whole = gzip.compress(text.encode(), mtime=0)
    _write(folder, f"{stem}-1-truncated.{ext}.gz", whole[: len(whole) // 2], plan, source)
    plan.unreadable.setdefault(source, []).append(f"{rel}{stem}-1-truncated.{ext}.gz")
    # UTF-16 with BOM, as some Windows tools export: every line is a wrong encoding (the header is not a
    # row; the last line is the NUL left over from the final UTF-16 newline)
    utf16_text = "\n".join(([header] if header else []) + docs[:6]) + "\n"
    data = utf16_text.encode("utf-16")
    name16 = f"{stem}-3-utf16.{ext}"
    _write(folder, name16, data, plan, source)
    for n, _ in enumerate(split_lines(data), start=1):
        if header and n == 1:
            continue
        key = (source, f"{rel}{name16}", n)
        plan.expected[key], plan.kinds[key] = "INVALID_ENCODING", "utf16_file"
    if source == "clickstream":
        return
    # the whole file with another delimiter: its header names no contract column
    delim = {"calls": ";", "crm_customers": "\t", "crm_activities": ";"}[source]
    lines = [delim.join(cols)] + [delim.join([f"{base[0]}d{i}", *base[1:]]) for i in range(8)]
    named = f"{stem}-4-{'semicolon' if delim == ';' else 'tab'}.{ext}"
    _write(folder, named, ("\n".join(lines) + "\n").encode(), plan, source)
    for n in range(2, len(lines) + 1):
        key = (source, f"{rel}{named}", n)
        plan.expected[key], plan.kinds[key] = "MISSING_COLUMN", "wrong_delimiter_file"
