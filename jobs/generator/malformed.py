"""Exactly one defect per malformed line, with the reason code the pipeline must give.

Malformed lines are few (malformed_rate of the lines), so the defects are applied
line by line here; nothing in the hot path loops per event.
"""
from __future__ import annotations

import json

import numpy as np

# (kind, expected reason)
CLICKSTREAM_KINDS = (
    ("truncated", "MALFORMED_JSON"),
    ("json_array", "MALFORMED_JSON"),
    ("json_scalar", "MALFORMED_JSON"),
    ("missing_event_id", "MISSING_REQUIRED_FIELD"),
    ("empty_event_id", "MISSING_REQUIRED_FIELD"),
    ("bad_client_ts", "INVALID_TIMESTAMP"),
    ("event_type_object", "INVALID_TYPE"),
    ("properties_string", "INVALID_TYPE"),
    ("properties_array", "INVALID_TYPE"),
    ("bad_event_type", "INVALID_VALUE"),
)
_COMMON_CSV = (
    ("short_row", "WRONG_COLUMN_COUNT"),
    ("long_row", "WRONG_COLUMN_COUNT"),
    ("empty_id", "MISSING_REQUIRED_FIELD"),
    ("bad_timestamp", "INVALID_TIMESTAMP"),
)
CSV_KINDS = {
    "crm_customers": _COMMON_CSV,
    "crm_activities": _COMMON_CSV + (
        ("non_numeric", "INVALID_TYPE"),
        ("closed_before_opened", "INVALID_VALUE"),
        ("bad_activity_type", "INVALID_VALUE"),
        ("csat_out_of_range", "INVALID_VALUE"),
        ("negative_amount", "INVALID_VALUE"),
    ),
    "calls": _COMMON_CSV + (
        ("non_numeric", "INVALID_TYPE"),
        ("negative_seconds", "INVALID_VALUE"),
        ("ended_before_started", "INVALID_VALUE"),
        ("bad_disposition", "INVALID_VALUE"),
        ("nps_out_of_range", "INVALID_VALUE"),
    ),
}
LATE_KIND = ("late_beyond_window", "LATE_BEYOND_WINDOW")

BAD_TIMESTAMPS = ("2026-13-45T99:00:00Z", "yesterday", "31/01/2026 10:00")
BAD_CSV_TIMESTAMPS = ("2026-02-30 25:61:00", "yesterday", "31/01/2026 10:00", "2026-13-01 10:00:00")
ID_COLUMN = {"crm_customers": "customer_id", "crm_activities": "activity_id", "calls": "call_id"}
TS_COLUMNS = {"crm_customers": ("created_at", "updated_at"), "crm_activities": ("opened_at", "updated_at"),
              "calls": ("started_at", "ended_at")}


def pick_kinds(rng: np.random.Generator, n: int, n_kinds: int) -> np.ndarray:
    """Kinds for n malformed lines: every kind once first (when n allows), then at random."""
    first = rng.permutation(n_kinds)[:n]
    rest = rng.integers(0, n_kinds, max(0, n - n_kinds))
    out = np.concatenate([first, rest])
    return out[rng.permutation(n)]


def corrupt_json_line(line: str, kind: tuple[str, str], rng: np.random.Generator) -> str:
    name = kind[0]
    if name == "truncated":
        cut = int(rng.integers(max(12, len(line) // 4), len(line) - 1))
        return line[:cut]
    if name == "json_array":
        return "[" + line + "]"
    d = json.loads(line)
    if name == "json_scalar":
        return json.dumps(d["event_id"]) if rng.random() < 0.5 else str(int(rng.integers(1, 10**6)))
    if name == "missing_event_id":
        del d["event_id"]
    elif name == "empty_event_id":
        d["event_id"] = ""
    elif name == "bad_client_ts":
        d["client_ts"] = BAD_TIMESTAMPS[int(rng.integers(0, len(BAD_TIMESTAMPS)))]
    elif name == "event_type_object":
        d["event_type"] = {"name": d["event_type"], "version": 2}
    elif name == "properties_string":
        d["properties"] = json.dumps(d.get("properties") or {"source": "sdk"}, separators=(",", ":"))
    elif name == "properties_array":
        d["properties"] = [d.get("properties") or {"source": "sdk"}]
    elif name == "bad_event_type":
        d["event_type"] = "Page View!"
    else:  # pragma: no cover
        raise ValueError(name)
    return json.dumps(d, separators=(",", ":"))


def corrupt_csv_row(fields: list[str], header: list[str], source: str, kind: tuple[str, str],
                    rng: np.random.Generator) -> list[str]:
    """One defect in a CSV row given as unquoted text fields in header order."""
    name = kind[0]
    f = list(fields)
    col = {h: i for i, h in enumerate(header)}

    def pick(options):
        return options[int(rng.integers(0, len(options)))]

    if name == "short_row":
        return f[:-1]
    if name == "long_row":
        return f + [pick(["unexpected", "1", "x;y"])]
    if name == "empty_id":
        f[col[ID_COLUMN[source]]] = ""
    elif name == "bad_timestamp":
        f[col[pick(TS_COLUMNS[source])]] = pick(BAD_CSV_TIMESTAMPS)
    elif name == "non_numeric":
        options = ["wait_seconds", "talk_seconds", "transfers"] if source == "calls" else ["amount", "csat_score"]
        f[col[pick(options)]] = pick(["n/a", "12abc", "ten"])
    elif name == "negative_seconds":
        c = pick(["wait_seconds", "talk_seconds"])
        f[col[c]] = "-" + str(max(1, int(f[col[c]] or "0")))
    elif name == "ended_before_started":
        f[col["ended_at"]] = _shift(f[col["started_at"]], -int(rng.integers(1, 600)))
    elif name == "bad_disposition":
        f[col["disposition"]] = pick(["dropped", "voicemail", "RESOLVED!"])
    elif name == "nps_out_of_range":
        f[col["survey_nps"]] = pick(["11", "12", "-1"])
    elif name == "closed_before_opened":
        f[col["closed_at"]] = _shift(f[col["opened_at"]], -int(rng.integers(60, 86_400)))
    elif name == "bad_activity_type":
        f[col["activity_type"]] = pick(["refund_request", "Order", "note"])
    elif name == "csat_out_of_range":
        f[col["csat_score"]] = pick(["6", "0", "10"])
    elif name == "negative_amount":
        f[col["amount"]] = "-" + (f[col["amount"]] or "25.00")
    else:  # pragma: no cover
        raise ValueError(name)
    return f


def _shift(ts: str, seconds: int) -> str:
    t = np.datetime64(ts.replace(" ", "T"), "s") + np.timedelta64(seconds, "s")
    return str(t).replace("T", " ")
