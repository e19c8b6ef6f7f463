"""Late and out-of-order deliveries (SPEC section 2; docs/normalize.md "Late and out-of-order data").

One generated dataset (the crawler bot left out) is delivered twice:

* **on time** (A'): every clickstream line, CRM activity and call in the arrival folder of
  its own event date, in the generator's order. Each date is normalized and published,
  then identity and journeys are built once over all dates (a full rebuild:
  tests/test_journeys_e2e.py proves it equal to building night by night);
* **late** (B): the same rows, but about one in ten moved 1..max_lateness_days folders
  later (some by exactly the limit), a few moved beyond the limit, and every file shuffled;
  every night normalized and published in order, the last two also built as the DAG
  builds them (see run_nightly for why that is every build that matters). Half of the late
  clickstream lines are re-delivered byte for byte (a delayed export); the other half come
  from an "offline device": `sent_at` and `received_at` pushed into the arrival day, the
  device's `client_ts` unchanged.

A' leaves out the rows B delivers beyond the window, so the two must end with identical
tables except for what describes the delivery rather than the event: `arrival_date`,
`source_file`, `source_line` of every row, and for the offline lines `attributes.sent_at`
and `received_at` (the latter still compared: it must have moved by exactly the lateness).
The rows beyond the window must be in `quarantine` as LATE_BEYOND_WINDOW, and
`pipeline_runs` must count every late and every quarantined row of every night.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import random
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import functions as F

from conftest import PIPELINE_KEY, SOURCES
from jobs import steps
from jobs.analytics.analyse import TABLES as ANALYTICS_TABLES
from jobs.generator import generate
from jobs.pipeline import normalize
from jobs.storage import read_table

UTC = timezone.utc
START, DAYS, CUSTOMERS, SEED = date(2026, 1, 5), 5, 100, 17
LAST = START + timedelta(days=DAYS - 1)
LATE_SHARE = {"clickstream": 0.15, "crm_activities": 0.35, "calls": 0.35}
BEYOND = {"clickstream": 6, "crm_activities": 1, "calls": 1}  # rows delivered past the window
CANONICAL_SOURCE = {"clickstream": "clickstream", "crm_activities": "crm", "calls": "calls"}
FILE_STEM = {"clickstream": "part", "crm_activities": "activities", "calls": "calls"}
# equal in both variants (events and journey_events without the delivery columns: _comparable)
COMPARED = ("events", "journey_events", "journeys", "identity_map", "customers", "crm_customers",
            *ANALYTICS_TABLES)
DELIVERY_COLUMNS = ("arrival_date", "source_file", "source_line")


@dataclass(frozen=True)
class Row:
    source: str            # clickstream | crm_activities | calls
    event_id: str          # the pipeline's event_id: sha256(source | source's own key)
    text: str              # the raw line
    header: str | None     # the CSV header of the file it came from
    event_date: date       # what the pipeline derives from the row (reporting time zone)
    order: int             # position in the generator's delivery
    shift_days: int = 0    # offline device: sent_at/received_at pushed this many days later


def _h(*parts) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _event_id(source: str, key: str) -> str:
    return hashlib.sha256(f"{CANONICAL_SOURCE[source]}|{key}".encode()).hexdigest()


def _instant(value, zone: str) -> datetime | None:
    """A raw timestamp as the contract reads it: epoch s/ms, ISO with offset, or naive in `zone`."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or str(value).isdigit():
        n = int(value)
        return datetime(1970, 1, 1, tzinfo=UTC) + (timedelta(milliseconds=n) if n > 10**11 else timedelta(seconds=n))
    t = datetime.fromisoformat(str(value))
    return (t if t.tzinfo else t.replace(tzinfo=ZoneInfo(zone))).astimezone(UTC)


def _click_event_at(doc: dict, config) -> datetime:
    """Event time of a collector line (docs/normalize.md, clock skew): the device clock, corrected
    by sent_at/received_at when it is off by more than the tolerance."""
    zone = config.sources.clickstream.timezone
    client, sent, received = (_instant(doc.get(k), zone) for k in ("client_ts", "sent_at", "received_at"))
    w = config.windows
    if sent is not None and abs(sent - received) > timedelta(seconds=w.clock_skew_tolerance_seconds):
        return client - (sent - received)
    if sent is None and client > received + timedelta(minutes=w.future_tolerance_minutes):
        return received
    return client


def _local_date(t: datetime, config) -> date:
    return t.astimezone(ZoneInfo(config.reporting_timezone)).date()


def base_rows(raw: Path, config) -> tuple[list[Row], Counter]:
    """The generator's event rows, once each, with the event date the pipeline will give them.
    Left out (counted in `dropped`): re-sent copies; rows the collector or system received
    more than a day after their event date (the generator's own offline sessions) or whose
    event date falls after the period, which cannot be delivered on their event date; and the
    crawler bot, four fifths of the clickstream, which has no journeys worth the time (and
    which the bot guard judges per arrival: a bot's day split over late deliveries is not
    covered here)."""
    rows, dropped, seen = [], Counter(), set()
    with open(raw / "ground_truth" / "persons.csv", newline="") as f:
        bots = {p["person_id"] for p in csv.DictReader(f) if p["is_bot"] == "true"}
    with open(raw / "ground_truth" / "identities.csv", newline="") as f:
        bot_devices = {i["id_value"] for i in csv.DictReader(f) if i["person_id"] in bots}

    def keep(source, key, text, header, event_at, received):
        eid = _event_id(source, key)
        if eid in seen:
            dropped[f"{source} duplicate"] += 1
            return
        seen.add(eid)
        e = _local_date(event_at, config)
        if not START <= e <= LAST or received.date() > e + timedelta(days=1):
            dropped[f"{source} not deliverable on its event date"] += 1
            return
        rows.append(Row(source, eid, text, header, e, len(rows)))

    for path in sorted((raw / "clickstream").glob("arrival_date=*/*.ndjson*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f.read().splitlines():
                if line.strip():
                    doc = json.loads(line)
                    if doc.get("anonymous_id") in bot_devices:
                        dropped["clickstream bot"] += 1
                        continue
                    keep("clickstream", doc["event_id"], line, None, _click_event_at(doc, config),
                         _instant(doc["received_at"], "UTC"))
    for source in ("crm_activities", "calls"):
        zone = getattr(config.sources, source).timezone
        for path in sorted((raw / source).glob("arrival_date=*/*.csv")):
            header, *lines = path.read_text(encoding="utf-8").splitlines()
            names = next(csv.reader([header]))
            for line in lines:
                r = dict(zip(names, next(csv.reader([line]))))
                if source == "calls":
                    key = r["call_id"]
                    event_at, received = _instant(r["started_at"], zone), _instant(r["ended_at"], zone)
                else:
                    order = r["activity_type"] == "order"
                    closed = bool(r["closed_at"]) and not order
                    key = f"{r['activity_id']}:{'placed' if order else 'closed' if closed else 'opened'}"
                    event_at = _instant(r["closed_at"] if closed else r["opened_at"], zone)
                    received = _instant(r["updated_at"], zone)
                keep(source, key, line, header, event_at, received)
    return rows, dropped


def late_placement(rows: list[Row], lateness: int) -> tuple[dict[Row, date], list[Row]]:
    """Arrival date of every row in the late variant (deterministic), and the rows delivered
    beyond the window. Every arrival stays within the period, so both variants run the same
    nights and their journeys' status is taken as of the same instant. Purchases are all
    late, on the last night where the limit allows: a late goal event ends a journey that
    events already published belonged to."""
    arrival, beyond = {}, []
    by_source = defaultdict(list)
    for r in rows:
        by_source[r.source].append(r)
    for source, rs in by_source.items():
        ranked = sorted(rs, key=lambda r: _h("rank", r.event_id))
        far = [r for r in ranked if (LAST - r.event_date).days > lateness][:BEYOND[source]]
        for r in far:
            reach = (LAST - r.event_date).days
            arrival[r] = r.event_date + timedelta(days=lateness + 1 + _h("far", r.event_id) % (reach - lateness))
        beyond += far
        for r in ranked:
            room = min(lateness, (LAST - r.event_date).days)
            goal = '"event_type":"purchase"' in r.text
            picked = goal or _h("late", r.event_id) % 10_000 < LATE_SHARE[source] * 10_000
            if r in arrival or not room or not picked:
                continue
            k = 1 + _h("k", r.event_id) % room
            if goal and (LAST - r.event_date).days <= lateness:
                k = (LAST - r.event_date).days  # last night: re-splits journeys published before
            if source == "clickstream" and _h("offline", r.event_id) % 2 and '"sent_at":"' in r.text:
                r2 = _offline(r, k)
                arrival[r2] = r.event_date + timedelta(days=k)
            else:
                arrival[r] = r.event_date + timedelta(days=k)
    placed = {a.event_id for a in arrival}
    for r in rows:
        if r.event_id not in placed:
            arrival[r] = r.event_date
    return arrival, beyond


def _shift_text(text: str, field: str, days: int) -> str:
    start = text.index(f'"{field}":"') + len(field) + 4
    end = text.index('"', start)
    old = text[start:end]
    new = (datetime.fromisoformat(old) + timedelta(days=days)).isoformat(timespec="milliseconds")
    if old.endswith("Z"):
        new = new.replace("+00:00", "Z")
    return text[:start] + new + text[end:]


def _offline(r: Row, days: int) -> Row:
    """The same event sent by a device that was offline for `days`: its send and receive times
    move, its own clock reading (client_ts) and so the event time do not."""
    text = _shift_text(_shift_text(r.text, "sent_at", days), "received_at", days)
    return replace(r, text=text, shift_days=days)


def write_variant(out: Path, arrival: dict[Row, date], generated: Path, shuffle: bool) -> dict:
    """Raw zone of one variant. Returns (source, source_file, source_line) -> event_id."""
    where: dict = {}
    folders = defaultdict(list)
    for r, day in arrival.items():
        folders[(r.source, day)].append(r)
    headers = {s: sorted({r.header for r in arrival if r.source == s and r.header}) for s in FILE_STEM}
    for (source, day), rs in sorted(folders.items()):
        rs.sort(key=lambda r: r.order)
        if shuffle:
            random.Random(f"{source}-{day}").shuffle(rs)
        folder = out / source / f"arrival_date={day.isoformat()}"
        folder.mkdir(parents=True)
        groups = defaultdict(list)  # one file per CSV header (the generator's drift day differs)
        for r in rs:
            groups[r.header].append(r)
        for header, group in groups.items():
            if source == "clickstream":
                name, lines, first = "part-00000.ndjson.gz", [r.text for r in group], 1
                (folder / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
            else:
                name = f"{FILE_STEM[source]}-{headers[source].index(header)}.csv"
                lines, first = [header] + [r.text for r in group], 2
                (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
            for i, r in enumerate(group):
                where[(source, f"arrival_date={day.isoformat()}/{name}", first + i)] = r.event_id
    shutil.copytree(generated / "crm_customers", out / "crm_customers")  # not events: same in both
    return where


def _cpu_seconds(spark) -> float:
    """CPU time of this process and its Spark JVM so far: on a shared machine it says more
    about the module's cost than wall time (psutil comes with Airflow; without it, 0)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    procs = {psutil.Process(), psutil.Process(spark._jvm.java.lang.ProcessHandle.current().pid())}
    return sum(p.cpu_times().user + p.cpu_times().system for p in procs)


def run_nightly(spark, config, nights) -> None:
    """Every night normalized and published in order; identity and journeys built on the last
    two nights as the DAG builds them (without the output suites: tests/test_pipeline.py).
    The first of the two recomputes every event date (its window reaches the first night):
    builds on earlier nights would only write tables it replaces whole and an identity graph
    it derives from the same rows. The second continues journeys from the cursor, merges the
    night's rows into the identity graph and rewrites what they touch."""
    for day in nights:
        normalize(spark, config, day, PIPELINE_KEY)
        if day >= nights[-2]:
            steps.build_step(spark, config, day)
        steps.publish_step(spark, config, day)


def run_rebuild(spark, config, nights) -> None:
    """Every night normalized and published, then identity and journeys built once over all
    event dates (a full rebuild, which tests/test_journeys_e2e.py proves equal to nightly runs)."""
    for day in nights:
        normalize(spark, config, day, PIPELINE_KEY)
        steps.publish_step(spark, config, day)
    steps.build_step(spark, config, nights[-1], window_start=nights[0])
    steps.publish_step(spark, config, nights[-1])


@pytest.fixture(scope="module")
def late(spark, base_config, tmp_path_factory):
    nights = [START + timedelta(days=i) for i in range(DAYS)]
    root = tmp_path_factory.mktemp("late")
    generate(root / "generated", customers=CUSTOMERS, days=DAYS, seed=SEED, start_date=START, malformed_rate=0.0)
    # A short journey timeout (late rows meet dropped journeys and the gaps that split them)
    # and no re-stitching before a login, so reprocess_days = 3 + 0 + 1 = 4 of the 5 nights:
    # the last night continues journeys from the cursor, and its window starts at the oldest
    # event date a row may still arrive for. Raw validation: tests/test_pipeline.py.
    config = base_config.with_overrides(identity={"restitch_days": 0}, windows={"journey_timeout_days": 2},
                                        quality={"validate_raw": False})
    lateness, window = config.windows.max_lateness_days, timedelta(days=config.reprocess_days - 1)
    assert nights[-2] - window <= START < nights[-1] - window  # what run_nightly relies on
    rows, dropped = base_rows(root / "generated", config)
    arrival, beyond = late_placement(rows, lateness)
    beyond_ids = {r.event_id for r in beyond}
    on_time = {r: r.event_date for r in rows if r.event_id not in beyond_ids}
    out = {"rows": rows, "dropped": dropped, "nights": nights, "lateness": lateness,
           "reprocess_days": config.reprocess_days,
           "beyond": {r: arrival[r] for r in beyond},
           "within": {r: d for r, d in arrival.items() if r.event_id not in beyond_ids and d > r.event_date},
           "shift": {r.event_id: r.shift_days for r in arrival if r.shift_days}}
    for name, placement, shuffle, run in (("on_time", on_time, False, run_rebuild),
                                          ("late", arrival, True, run_nightly)):
        raw = root / name / "raw"
        where = write_variant(raw, placement, root / "generated", shuffle)
        cfg = config.with_overrides(warehouse=str(root / name / "warehouse"),
                                    sources={s: {"path": str(raw / s)} for s in SOURCES})
        wall, cpu = time.monotonic(), _cpu_seconds(spark)
        run(spark, cfg, nights)
        print(f"{name}: {len(nights)} nights in {time.monotonic() - wall:.0f} s, "
              f"{_cpu_seconds(spark) - cpu:.0f} CPU s (load {os.getloadavg()[0]:.1f})")
        out[name] = {"config": cfg, "placement": placement, "where": where}
    return out


def _table(spark, variant, table):
    return read_table(spark, variant["config"].warehouse, table)


def _lateness(placement: dict) -> Counter:
    return Counter((r.source, (day - r.event_date).days) for r, day in placement.items())


def test_the_late_delivery_holds_what_it_should(late):
    """Not vacuous: every source has late rows, some exactly at the limit, and some just
    beyond it; and the rows the on-time variant leaves out are exactly those."""
    limit = late["lateness"]
    within, beyond = _lateness(late["within"]), _lateness(late["beyond"])
    print(f"base rows {Counter(r.source for r in late['rows'])}, left out {dict(late['dropped'])}")
    print(f"late within the window (source, days late): {sorted(within.items())}; "
          f"{len(late['shift'])} of them from offline devices")
    print(f"beyond the window: {sorted(beyond.items())}")
    for source in ("clickstream", "crm_activities", "calls"):
        assert sum(n for (s, _), n in within.items() if s == source) > 0, source
        assert sum(n for (s, _), n in beyond.items() if s == source) > 0, source
    assert {k for _, k in within} == set(range(1, limit + 1)) and within[("clickstream", limit)] > 10
    assert min(k for _, k in beyond) == limit + 1
    assert 50 < len(late["shift"]) < sum(within.values())
    assert 0.10 <= sum(within.values()) / len(late["rows"]) <= 0.20
    on_time = {r.event_id for r in late["on_time"]["placement"]}
    assert on_time == {r.event_id for r in late["rows"]} - {r.event_id for r in late["beyond"]}


def test_every_event_lands_on_its_event_date_whenever_it_arrives(spark, late):
    """events is partitioned by event date and arrival date: each row under the event date
    the test derived from the raw row (so the placements mean what they say) and the day it
    was delivered; its source_file and source_line name the shuffled line it came from."""
    raw_source = {"clickstream": "clickstream", "crm": "crm_activities", "calls": "calls"}
    for name in ("on_time", "late"):
        variant = late[name]
        expected = {r.event_id: (r.event_date, day) for r, day in variant["placement"].items()}
        if name == "late":
            for r in late["beyond"]:
                del expected[r.event_id]
        got = _table(spark, variant, "events").select(
            "event_id", "source", "source_file", "source_line", "event_date", "arrival_date").collect()
        assert {r.event_id: (r.event_date, r.arrival_date) for r in got} == expected, name
        assert len(got) == len(expected)
        misplaced = [r for r in got if variant["where"].get((raw_source[r.source], r.source_file, r.source_line))
                     != r.event_id]
        assert not misplaced, f"{name}: {len(misplaced)} rows name the wrong raw line, e.g. {misplaced[0]}"


def _comparable(spark, late, name: str, table: str) -> list[str]:
    """A table's rows as sorted JSON, without what describes the delivery rather than the
    event: arrival_date, source_file and source_line of events; for the offline-device
    lines, attributes.sent_at, and received_at taken back by the days the device was offline
    (so the received time is still compared: it must have moved by exactly that)."""
    df = _table(spark, late[name], table)
    if "event_id" in df.columns and "attributes" in df.columns:
        shifted = spark.createDataFrame(list(late["shift"].items()), "event_id string, _shift int")
        df = df.join(shifted, "event_id", "left")
        df = df.withColumn("attributes", F.when(F.col("_shift").isNull(), F.col("attributes"))
                           .otherwise(F.map_filter("attributes", lambda k, v: k != "sent_at")))
        if "received_at" in df.columns and name == "late":
            df = df.withColumn("received_at", F.when(F.col("_shift").isNull(), F.col("received_at"))
                               .otherwise(F.expr("timestampadd(DAY, -_shift, received_at)")))
        df = df.drop("_shift")
    columns = sorted(c for c in df.columns if table != "events" or c not in DELIVERY_COLUMNS)
    return sorted(r.j for r in df.select(F.to_json(F.struct(*columns)).alias("j")).collect())


def test_late_rows_give_the_same_tables_as_on_time_rows(spark, late):
    """Delivered up to max_lateness_days late, out of order, night by night: every table is
    what the on-time delivery (without the rows beyond the window) gives, row for row."""
    for table in COMPARED:
        on_time, delivered_late = (_comparable(spark, late, name, table) for name in ("on_time", "late"))
        print(f"{table}: {len(on_time)} rows on time, {len(delivered_late)} late")
        assert on_time, table
        if on_time != delivered_late:
            a, b = Counter(on_time), Counter(delivered_late)
            only_a, only_b = list((a - b).elements()), list((b - a).elements())
            pytest.fail(f"{table}: {len(only_a)} rows only on time, {len(only_b)} only late; e.g.\n"
                        + "\n".join(f"  on time: {x[:700]}" for x in only_a[:3]) + "\n"
                        + "\n".join(f"  late:    {x[:700]}" for x in only_b[:3]))


def test_late_rows_are_woven_into_journeys_built_before_they_arrived(spark, late):
    """The equality above is not vacuous. Rows arriving on the last night, after journeys
    were built and published the night before: join those journeys, in front of events
    that arrived earlier; join journeys continued from the cursor (begun before the night's
    reprocessing window); end, as late purchases, journeys that later events had been part
    of; tie devices to users, as late logins."""
    variant, last = late["late"], late["nights"][-1]
    je = {r.event_id: r for r in _table(spark, variant, "journey_events").select(
        "event_id", "customer_key", "journey_id", "event_at", "event_type", "event_date").collect()}
    arrived = {r.event_id: day for r, day in variant["placement"].items()}
    members, of_customer = defaultdict(list), defaultdict(list)
    for e in je.values():
        members[e.journey_id].append(e)
        of_customer[e.customer_key].append(e)
    window_start = last - timedelta(days=late["reprocess_days"] - 1)
    arriving = [r for r, day in late["within"].items() if day == last]
    joined, inserted, from_cursor, split = Counter(), Counter(), Counter(), 0
    for r in arriving:
        e = je[r.event_id]
        built = [o for o in members[e.journey_id] if arrived[o.event_id] < last]
        joined[r.source] += bool(built)
        inserted[r.source] += any(o.event_at > e.event_at for o in built)
        from_cursor[r.source] += min(o.event_date for o in members[e.journey_id]) < window_start
        if e.event_type == "purchase":
            split += any(o.event_at > e.event_at and arrived[o.event_id] < last for o in of_customer[e.customer_key])
    logins = sum('"user_id":"' in r.text and '"anonymous_id":"' in r.text for r in arriving)
    print(f"{len(arriving)} late rows arrive on the last night; in a journey published before: {dict(joined)}; "
          f"in front of such a journey's events: {dict(inserted)}; in a journey begun before the window: "
          f"{dict(from_cursor)}; late purchases followed by events published before: {split}; "
          f"late rows linking a device to a user: {logins}")
    assert joined["clickstream"] > 20 and inserted["clickstream"] > 10 and from_cursor["clickstream"] > 0
    assert split > 0 and logins > 0


def test_rows_beyond_the_window_are_quarantined(spark, late):
    """A row more than max_lateness_days after its event date is quarantined as
    LATE_BEYOND_WINDOW with its file, line and raw text; it reaches no other table."""
    variant = late["late"]
    line_of = {eid: key for key, eid in variant["where"].items()}
    limit = late["lateness"]
    expected = set()
    for r, day in late["beyond"].items():
        source, source_file, source_line = line_of[r.event_id]
        detail = f"event date {r.event_date} arrived {(day - r.event_date).days} days later (limit {limit})"
        expected.add((source, source_file, source_line, day, "LATE_BEYOND_WINDOW", detail, r.text))
    got = {(q.source, q.source_file, q.source_line, q.arrival_date, q.reason_code, q.reason_detail, q.raw_record)
           for q in _table(spark, variant, "quarantine").collect()}
    assert got == expected
    on_time = _table(spark, late["on_time"], "quarantine")
    assert on_time is None or on_time.count() == 0
    gone = [r.event_id for r in late["beyond"]]
    for table in ("events", "journey_events"):
        assert _table(spark, variant, table).where(F.col("event_id").isin(gone)).count() == 0, table


def test_pipeline_runs_count_every_late_and_every_quarantined_row(spark, late):
    """Per night and source, pipeline_runs counts the rows read, the accepted rows that
    arrived after their event date (rows_late) and the rows quarantined per reason, and
    the books balance: rows_in = rows_out + rows_quarantined + rows_duplicate (+ rows_bot)."""
    for name in ("on_time", "late"):
        variant = late[name]
        placed = Counter((r.source, day) for r, day in variant["placement"].items())
        is_late = Counter((r.source, day) for r, day in variant["placement"].items() if day > r.event_date)
        beyond = Counter((r.source, day) for r, day in late["beyond"].items()) if name == "late" else Counter()
        runs = [r.asDict() for r in _table(spark, variant, "pipeline_runs").where("step = 'normalize'").collect()]
        assert sorted((r["run_date"], r["source"]) for r in runs) == sorted(
            (day, s) for day in late["nights"] for s in SOURCES), name
        for run in runs:
            key, where = (run["source"], run["run_date"]), f"{name} {run['source']} {run['run_date']}"
            assert run["status"] == "succeeded" and run["is_balanced"], where
            bots = run.get("rows_bot") or 0  # the bot guard's column, where it exists
            assert run["rows_in"] == run["rows_out"] + run["rows_quarantined"] + run["rows_duplicate"] + bots, where
            assert bots == 0, where  # the crawler bot is left out of the data (base_rows)
            if run["source"] == "crm_customers":
                assert run["rows_late"] == 0 and run["rows_quarantined"] == 0, where
                continue
            late_rows = is_late[key] - beyond[key]
            expected = {"rows_in": placed[key], "rows_out": placed[key] - beyond[key],
                        "rows_quarantined": beyond[key], "rows_duplicate": 0, "rows_late": late_rows,
                        "quarantine_by_reason": {"LATE_BEYOND_WINDOW": beyond[key]} if beyond[key] else {}}
            assert {k: run[k] for k in expected} == expected, where
        total = {k: sum(r[k] for r in runs) for k in ("rows_in", "rows_late", "rows_quarantined")}
        print(f"{name}: {total}")
        if name == "late":
            assert total["rows_late"] == len(late["within"]) and total["rows_quarantined"] == len(late["beyond"])
        else:
            assert total["rows_late"] == total["rows_quarantined"] == 0
