"""The synthetic-data generator: determinism, contract validity, defects as stated, truth consistent.

Plain pytest (no Spark). Contracts are read from schemas/raw/*.yaml with PyYAML.
"""
from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
import yaml

from jobs.generator import generate

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_OF = {"clickstream": "clickstream_events", "crm_customers": "crm_customers",
               "crm_activities": "crm_activities", "calls": "call_logs"}
CSV_FILE = {"crm_customers": "customers.csv", "crm_activities": "activities.csv", "calls": "calls.csv"}
DRIFT_FIELDS = {"app_version", "consent"}
CUSTOMERS, DAYS, SEED = 200, 4, 11
START = date(2026, 1, 5)


@functools.lru_cache(maxsize=None)
def contract(source: str) -> dict:
    with open(ROOT / "schemas" / "raw" / f"{CONTRACT_OF[source]}.yaml") as f:
        return yaml.safe_load(f)


def columns(source: str) -> list[dict]:
    return contract(source)["columns"]


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    out = tmp_path_factory.mktemp("generator") / "a"
    summary = generate(out, CUSTOMERS, DAYS, SEED)
    return out, summary


def sha_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def malformed_index(out: Path) -> dict[tuple[str, int], tuple[str, str]]:
    with open(out / "ground_truth" / "malformed.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {(r["file"], int(r["line_number"])): (r["expected_reason"], r["kind"]) for r in rows}


def read_lines(path: Path) -> list[str]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    text = raw.decode("utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


# ------------------------------------------------------------------------ validators (contract rules)

_INT = re.compile(r"[+-]?[0-9]{1,10}")
_DBL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def parse_json_ts(v) -> datetime | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return datetime.fromtimestamp(v / 1000, tz=timezone.utc) if len(str(v)) == 13 else None
    if isinstance(v, str):
        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            return None
        return t if t.tzinfo is not None else None
    return None


def parse_csv_ts(v: str) -> datetime | None:
    try:
        return datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def json_problems(line: str, drift_ok: bool) -> set[str]:
    try:
        d = json.loads(line)
    except ValueError:
        return {"MALFORMED_JSON"}
    if not isinstance(d, dict):
        return {"MALFORMED_JSON"}
    problems = set()
    cols = columns("clickstream")
    names = [c["name"] for c in cols]
    for c in cols:
        v = d.get(c["name"])
        if c.get("required") and (v is None or v == ""):
            problems.add("MISSING_REQUIRED_FIELD")
        if v is None or v == "":
            continue
        if c["type"] == "json":
            if not isinstance(v, dict):
                problems.add("INVALID_TYPE")
            continue
        if isinstance(v, (dict, list)):
            problems.add("INVALID_TYPE")
            continue
        if c["type"] == "timestamp" and parse_json_ts(v) is None:
            problems.add("INVALID_TIMESTAMP")
        if c.get("pattern") and not re.fullmatch(c["pattern"], str(v)):
            problems.add("INVALID_VALUE")
        if c.get("allowed_values") and v not in c["allowed_values"]:
            problems.add("INVALID_VALUE")
    extra = set(d) - set(names)
    assert extra <= (DRIFT_FIELDS if drift_ok else set()), extra
    present = [k for k in d if k in names]
    assert present == sorted(present, key=names.index), "keys not in contract order"
    return problems


def csv_problems(source: str, fields: list[str], header: list[str]) -> set[str]:
    if len(fields) != len(header):
        return {"WRONG_COLUMN_COUNT"}
    rec = {h: v.strip() for h, v in zip(header, fields)}
    problems = set()
    for c in columns(source):
        v = rec.get(c["name"], "")
        if c.get("required") and v == "":
            problems.add("MISSING_REQUIRED_FIELD")
        if v == "":
            continue
        if c["type"] in ("integer", "double"):
            if not (_INT if c["type"] == "integer" else _DBL).fullmatch(v):
                problems.add("INVALID_TYPE")
                continue
            x = float(v)
            if ("min" in c and x < c["min"]) or ("max" in c and x > c["max"]):
                problems.add("INVALID_VALUE")
        if c["type"] == "timestamp" and parse_csv_ts(v) is None:
            problems.add("INVALID_TIMESTAMP")
        if c.get("allowed_values") and v not in c["allowed_values"]:
            problems.add("INVALID_VALUE")
    pairs = {"calls": ("started_at", "ended_at"), "crm_activities": ("opened_at", "closed_at")}
    if source in pairs:
        a, b = (parse_csv_ts(rec.get(x, "")) for x in pairs[source])
        if a and b and b < a:
            problems.add("INVALID_VALUE")
    return problems


def pipeline_event_at(d: dict) -> datetime:
    """The pipeline's trusted event time: skew-corrected when sent_at is off by more than 60 s."""
    client, sent, received = (parse_json_ts(d.get(k)) for k in ("client_ts", "sent_at", "received_at"))
    if sent is not None and abs((sent - received).total_seconds()) > 60:
        return received - (sent - client)
    return client


def epoch_ms(series) -> list[int]:
    return series.dt.tz_convert(None).to_numpy().astype("datetime64[ms]").astype("int64").tolist()


def norm_phone(raw: str) -> str:
    digits = re.sub(r"\D", "", raw.split(" ext.")[0])
    if digits.startswith("001"):
        digits = digits[3:]
    elif len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    assert len(digits) == 10, raw
    return "+1" + digits


# ------------------------------------------------------------------------ tests


def test_same_seed_gives_identical_files(gen, tmp_path):
    out, summary = gen
    again = generate(tmp_path / "b", CUSTOMERS, DAYS, SEED)
    assert sha_tree(out) == sha_tree(tmp_path / "b")
    drop = ("seconds_elapsed", "clickstream_events_per_second")
    assert {k: v for k, v in summary.items() if k not in drop} == {k: v for k, v in again.items() if k not in drop}


def test_different_seed_gives_different_files(gen, tmp_path):
    out, _ = gen
    generate(tmp_path / "c", CUSTOMERS, DAYS, SEED + 1)
    a, b = sha_tree(out), sha_tree(tmp_path / "c")
    common = set(a) & set(b)
    assert common
    assert sum(a[k] != b[k] for k in common) >= len(common) * 0.8


def test_layout_and_summary(gen):
    out, summary = gen
    assert sorted(p.name for p in out.iterdir()) == ["calls", "clickstream", "crm_activities", "crm_customers",
                                                      "ground_truth"]
    assert sorted(p.name for p in (out / "ground_truth").iterdir()) == sorted(
        ["persons.csv", "identities.csv", "funnel.json", "friction.json", "malformed.csv",
         "events_truth.parquet", "summary.json"])
    last_event_day = START + timedelta(days=DAYS - 1)
    for source in CONTRACT_OF:
        folders = sorted((out / source).iterdir())
        assert folders
        for folder in folders:
            day = date.fromisoformat(folder.name.removeprefix("arrival_date="))
            assert START <= day <= last_event_day + timedelta(days=11)
            if source == "clickstream":
                assert all(re.fullmatch(r"part-\d{5}\.ndjson\.gz", p.name) for p in folder.iterdir())
            else:
                assert [p.name for p in folder.iterdir()] == [CSV_FILE[source]]
                assert day <= last_event_day        # CSV sources never arrive after the period
    # the customers snapshot arrives on the first day
    assert (out / "crm_customers" / f"arrival_date={START}" / "customers.csv").exists()
    stored = json.loads((out / "ground_truth" / "summary.json").read_text())
    assert stored == {k: v for k, v in summary.items() if k not in ("seconds_elapsed", "clickstream_events_per_second")}
    json.dumps(summary)
    assert 2.5 <= (summary["events"] - summary["sources"]["clickstream"]["bot_events"]) / CUSTOMERS / DAYS <= 5


def test_gzip_is_deterministic_without_name_or_mtime(gen):
    out, _ = gen
    for p in (out / "clickstream").rglob("*.gz"):
        head = p.read_bytes()[:10]
        assert head[:3] == b"\x1f\x8b\x08" and head[3] == 0 and head[4:8] == b"\0\0\0\0"


def test_clickstream_lines_valid_or_malformed_as_stated(gen):
    out, summary = gen
    bad = malformed_index(out)
    drift = date.fromisoformat(summary["schema_drift_date"])
    t = pq.read_table(out / "ground_truth" / "events_truth.parquet").to_pandas()
    t = t[t["source"] == "clickstream"]
    truth = {(f, int(n)): row for f, n, row in zip(
        t["file"].astype(str), t["line_number"],
        zip(t["source_event_id"], epoch_ms(t["event_time"]), t["skew_hours"], epoch_ms(t["expected_event_at"]),
            t["is_duplicate_delivery"]))}
    seen = Counter()
    null_styles = Counter()
    for path in sorted((out / "clickstream").rglob("*.gz")):
        rel = str(path.relative_to(out))
        folder_day = date.fromisoformat(path.parent.name.removeprefix("arrival_date="))
        for no, line in enumerate(read_lines(path), start=1):
            expected = bad.get((rel, no))
            problems = json_problems(line, drift_ok=True)
            if expected and expected[0] != "LATE_BEYOND_WINDOW":
                assert problems == {expected[0]}, (rel, no, expected, line)
                seen[expected[1]] += 1
                continue
            assert problems == set(), (rel, no, problems, line)
            d = json.loads(line)
            event_at = pipeline_event_at(d)
            lateness = (folder_day - event_at.astimezone(timezone.utc).date()).days
            if expected:
                assert lateness > 3, (rel, no)
                seen["late_beyond_window"] += 1
            else:
                assert lateness <= 3, (rel, no, lateness)
            assert (parse_json_ts(d["received_at"]).date() >= drift) == ("consent" in d)
            null_styles["null" if d.get("user_id", 0) is None else "omitted" if "user_id" not in d else "set"] += 1
            # times agree with the truth: client clock = true time + skew; pipeline time as recorded
            event_id, true_ms, skew_hours, expected_ms, is_copy = truth[(rel, no)]
            assert d["event_id"] == event_id
            client = parse_json_ts(d["client_ts"])
            assert round(client.timestamp() * 1000) - true_ms == round(skew_hours * 3_600_000)
            assert round(event_at.timestamp() * 1000) == expected_ms
            assert d["received_at"].endswith("Z") and len(d["received_at"]) == 24
            received = parse_json_ts(d["received_at"])
            assert received.date() == folder_day or is_copy
            sent = parse_json_ts(d["sent_at"])
            assert sent >= client
    assert {"null", "omitted", "set"} <= set(null_styles)
    assert sum(v for k, v in seen.items() if k != "late_beyond_window") >= 5
    assert seen["late_beyond_window"] >= 1


def test_csv_rows_valid_or_malformed_as_stated(gen):
    out, summary = gen
    bad = malformed_index(out)
    drift = summary["schema_drift_date"]
    seen = Counter()
    for source in CSV_FILE:
        names = [c["name"] for c in columns(source)]
        for path in sorted((out / source).rglob("*.csv")):
            rel = str(path.relative_to(out))
            lines = read_lines(path)
            header = next(csv.reader([lines[0]]))
            if path.parent.name == f"arrival_date={drift}" and source == "crm_customers":
                assert header == names + ["loyalty_tier"]
            elif path.parent.name == f"arrival_date={drift}" and source == "calls":
                assert sorted(header) == sorted(names) and header != names
            else:
                assert header == names, rel
            for no, line in enumerate(lines[1:], start=2):
                fields = next(csv.reader([line]))
                expected = bad.get((rel, no))
                problems = csv_problems(source, fields, header)
                if expected:
                    assert problems == {expected[0]}, (rel, no, expected, line)
                    seen[(source, expected[0])] += 1
                else:
                    assert problems == set(), (rel, no, problems, line)
    reasons = {r for _, r in seen}
    assert {"WRONG_COLUMN_COUNT", "MISSING_REQUIRED_FIELD", "INVALID_TIMESTAMP"} <= reasons


def test_line_counts_and_duplicates_match_summary(gen):
    out, summary = gen
    for source in CONTRACT_OF:
        s = summary["sources"][source]
        total = 0
        for day, entry in s["by_arrival_date"].items():
            folder = out / source / f"arrival_date={day}"
            n = sum(len(read_lines(p)) - (0 if source == "clickstream" else 1) for p in folder.iterdir())
            assert n == entry["lines"], (source, day)
            total += n
        assert total == s["lines"] == summary["rows"][source]
    # clickstream: every extra copy of an event_id is a duplicate, and copies are identical lines
    copies = defaultdict(list)
    for path in sorted((out / "clickstream").rglob("*.gz")):
        for line in read_lines(path):
            try:
                d = json.loads(line)
                eid = d.get("event_id") if isinstance(d, dict) else None
            except ValueError:
                eid = None
            if eid:
                copies[eid].append(line)
    extra = sum(len(v) - 1 for v in copies.values())
    assert extra == summary["duplicates"]["clickstream"] > 0
    assert all(len(set(v)) == 1 for v in copies.values())
    # crm_customers: rows repeating a customer_id inside one file
    dup = 0
    for path in (out / "crm_customers").rglob("*.csv"):
        rows = list(csv.reader(read_lines(path)[1:]))
        ids = Counter(r[0] for r in rows if r and r[0])
        dup += sum(k - 1 for k in ids.values())
    assert dup == summary["duplicates"]["crm_customers"]


def test_identities_cover_every_id_in_the_files(gen):
    out, _ = gen
    with open(out / "ground_truth" / "identities.csv", newline="") as f:
        ids = list(csv.DictReader(f))
    with open(out / "ground_truth" / "persons.csv", newline="") as f:
        persons = {r["person_id"]: r for r in csv.DictReader(f)}
    owner = defaultdict(set)
    shared_flag = defaultdict(set)
    for r in ids:
        assert r["person_id"] in persons
        owner[(r["id_type"], r["id_normalized"])].add(r["person_id"])
        shared_flag[(r["id_type"], r["id_normalized"])].add(r["is_shared"])
    assert all(shared_flag[k] == {"true" if len(v) > 1 else "false"} for k, v in owner.items())
    truth = pq.read_table(out / "ground_truth" / "events_truth.parquet").to_pandas()
    person_of_line = dict(zip(zip(truth["file"].astype(str), truth["line_number"]), truth["person_id"].astype(str)))

    def check(id_type, value, rel, no, person=None):
        key = (id_type, value)
        assert key in owner, key
        assert (person or person_of_line[(rel, no)]) in owner[key], (key, rel, no)

    for path in sorted((out / "clickstream").rglob("*.gz")):
        rel = str(path.relative_to(out))
        for no, line in enumerate(read_lines(path), start=1):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if not isinstance(d, dict):
                continue
            check("anonymous_id", d["anonymous_id"], rel, no)
            if d.get("user_id"):
                check("user_id", d["user_id"], rel, no)
    for source, cols in (("crm_customers", ("customer_id", "email", "phone", "web_user_id")),
                         ("crm_activities", ("customer_id",)), ("calls", ("customer_id", "caller_number"))):
        for path in sorted((out / source).rglob("*.csv")):
            rel = str(path.relative_to(out))
            lines = read_lines(path)
            header = next(csv.reader([lines[0]]))
            for no, line in enumerate(lines[1:], start=2):
                rec = dict(zip(header, next(csv.reader([line]))))
                person = None
                if source == "crm_customers":       # not an event source: the row's customer_id names the person
                    if not rec.get("customer_id"):
                        continue
                    (person,) = owner[("customer_id", rec["customer_id"])]
                for col in cols:
                    v = rec.get(col, "").strip()
                    if not v:
                        continue
                    if col == "email":
                        check("email", v.lower(), rel, no, person)
                    elif col in ("phone", "caller_number"):
                        check("phone", norm_phone(v), rel, no, person)
                    elif col == "web_user_id":
                        check("user_id", v, rel, no, person)
                    else:
                        check("customer_id", v, rel, no, person)
    # a household device and company switchboards are shared
    shared = {k[0] for k, v in owner.items() if len(v) > 1}
    assert "phone" in shared
    bots = [p for p, r in persons.items() if r["is_bot"] == "true"]
    assert bots and all(not persons[b]["user_id"] for b in bots)


def test_events_truth_matches_files(gen):
    out, summary = gen
    truth = pq.read_table(out / "ground_truth" / "events_truth.parquet").to_pandas()
    bad = malformed_index(out)
    for source in ("clickstream", "crm_activities", "calls"):
        t = truth[truth["source"] == source]
        assert len(t) == summary["rows"][source]
        assert int(t["is_duplicate_delivery"].sum()) == summary["duplicates"][source]
        flagged = {(f, int(n)) for f, n, m, b in zip(t["file"].astype(str), t["line_number"], t["is_malformed"],
                                                     t["is_late_beyond_window"]) if m or b}
        assert flagged == {k for k in bad if k[0].startswith(source + "/")}
    click = truth[(truth["source"] == "clickstream") & ~truth["is_bot"] & ~truth["is_duplicate_delivery"]]
    # sessions of a person are separated by more than 30 minutes
    click = click.sort_values(["person_id", "event_time"])
    same = click["person_id"].to_numpy()[1:] == click["person_id"].to_numpy()[:-1]
    new_session = click["session"].to_numpy()[1:] != click["session"].to_numpy()[:-1]
    gaps = (click["event_time"].to_numpy()[1:] - click["event_time"].to_numpy()[:-1]).astype("timedelta64[s]")
    assert (gaps[same & new_session] > timedelta(minutes=30)).all()
    assert (gaps[same & ~new_session] <= timedelta(minutes=30)).all()
    bots = truth[(truth["source"] == "clickstream") & truth["is_bot"] & ~truth["is_duplicate_delivery"]]
    assert bots.groupby(bots["event_time"].dt.date).size().min() >= 1000


def test_friction_and_funnel_truth(gen):
    out, _ = gen
    friction = json.loads((out / "ground_truth" / "friction.json").read_text())["frictions"]
    for name in ("payment_failed", "rage_click_coupon", "signup_form_error_loop", "long_queue_wait",
                 "abandoned_call", "multi_transfer", "complaint"):
        f = friction[name]
        for k in ("touchpoint", "stage", "signal", "injection_rate", "true_conversion_with",
                  "true_conversion_without"):
            assert k in f
        for v in (f["true_conversion_with"], f["true_conversion_without"]):
            assert v is None or 0 <= v <= 1
    funnel = json.loads((out / "ground_truth" / "funnel.json").read_text())
    p = funnel["model"]["per_session_probabilities"]
    assert set(p) == {"consumer", "small_business", "enterprise"}
    assert p["consumer"]["mobile"]["purchase_intent"]["advance_per_session"] < \
        p["consumer"]["desktop"]["purchase_intent"]["advance_per_session"]
    overall = funnel["realized"]["overall"]
    assert overall["reached"]["purchase"] <= overall["reached"]["purchase_intent"]
    assert overall["reached"]["purchase"] > 0


def test_calls_local_time_is_dst_correct(tmp_path):
    """A period across the US DST change: call-log local times convert back to the true UTC times."""
    out = tmp_path / "dst"
    generate(out, 150, 4, 5, start_date=date(2026, 3, 6), malformed_rate=0.0)
    truth = pq.read_table(out / "ground_truth" / "events_truth.parquet").to_pandas()
    calls = truth[truth["source"] == "calls"]
    listed = list(csv.DictReader((out / "ground_truth" / "malformed.csv").open()))
    assert all(r["expected_reason"] == "LATE_BEYOND_WINDOW" for r in listed)   # malformed_rate=0: no defects
    chicago = ZoneInfo("America/Chicago")
    checked = 0
    for path in sorted((out / "calls").rglob("*.csv")):
        rel = str(path.relative_to(out))
        rows = list(csv.DictReader(read_lines(path)))
        for no, r in enumerate(rows, start=2):
            local = datetime.strptime(r["started_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=chicago)
            t = calls[(calls["file"].astype(str) == rel) & (calls["line_number"] == no)]
            assert local.astimezone(timezone.utc) == t["event_time"].iloc[0].to_pydatetime(), (rel, no)
            assert 7 <= local.hour < 21
            checked += 1
    assert checked > 5
    # clickstream offsets follow the person's zone across the change too
    persons = {r["person_id"]: r for r in csv.DictReader((out / "ground_truth" / "persons.csv").open())}
    click = truth[(truth["source"] == "clickstream") & (truth["skew_hours"] == 0)].set_index(["file", "line_number"])
    for path in sorted((out / "clickstream").rglob("*.gz"))[:3]:
        rel = str(path.relative_to(out))
        for no, line in enumerate(read_lines(path)[:400], start=1):
            d = json.loads(line)
            if (rel, no) not in click.index or not isinstance(d["client_ts"], str) or d["client_ts"].endswith("Z"):
                continue
            t = click.loc[(rel, no)]
            zone = ZoneInfo(persons[t["person_id"]]["time_zone"])
            ts = datetime.fromisoformat(d["client_ts"])
            assert ts.utcoffset() == ts.astimezone(zone).utcoffset()
