"""Fourteen generated days through identity and journeys, night by night and as one
rebuild: the tables must be identical, must match an independent plain-Python
reference, and identities must match the generator's ground truth."""
from __future__ import annotations

import csv
import hashlib
import hmac
import re
import shutil
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs import steps
from jobs.analytics.analyse import TABLES as ANALYTICS_TABLES
from jobs.generator import generate
from jobs.normalize.pii import PiiKey
from jobs.pipeline import normalize
from jobs.storage import read_table

SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
KEY = PiiKey(b"journeys-test-key-0123456789")
COMPARED = ("identity_map", "customers", "journey_events", "journeys", *ANALYTICS_TABLES)
SOURCE_RANK = {"clickstream": 0, "crm": 1, "calls": 2}


def rows_digest(spark, warehouse, table):
    df = read_table(spark, warehouse, table)
    rows = sorted(r.j for r in df.select(F.to_json(F.struct(*sorted(df.columns))).alias("j")).collect())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest(), len(rows)


@pytest.fixture(scope="module")
def fortnight(spark, base_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("fortnight")
    raw = root / "raw"
    generate(raw, customers=40, days=14, seed=21)
    sources = {s: {"path": str(raw / s)} for s in SOURCES}
    # a short window and timeout so fourteen nights exercise the cursor, expiry and re-stitching
    base = base_config.with_overrides(
        warehouse=str(root / "base"), sources=sources,
        identity={"restitch_days": 1}, windows={"journey_timeout_days": 2},
        quality={"validate_raw": False})  # tests/test_pipeline.py and test_quality.py cover validation
    dates = sorted({date.fromisoformat(p.name.split("=")[1]) for s in SOURCES for p in (raw / s).glob("arrival_date=*")})
    for day in dates:
        normalize(spark, base, day, KEY)
        steps.publish_step(spark, base, day)
    inc = base.with_overrides(warehouse=str(root / "incremental"))
    full = base.with_overrides(warehouse=str(root / "full"))
    for cfg in (inc, full):
        shutil.copytree(base.warehouse, cfg.warehouse)
    nightly = []
    for day in dates:
        nightly.append(steps.build_step(spark, inc, day))
        steps.publish_step(spark, inc, day)
    first = read_table(spark, full.warehouse, "events").agg(F.min("event_date")).first()[0]
    rebuild = steps.build_step(spark, full, dates[-1], window_start=first)
    steps.publish_step(spark, full, dates[-1])
    return {"raw": raw, "inc": inc, "full": full, "dates": dates, "nightly": nightly, "rebuild": rebuild}


def test_incremental_equals_full_rebuild(spark, fortnight):
    assert len(fortnight["dates"]) >= 14
    for table in COMPARED:
        inc = rows_digest(spark, fortnight["inc"].warehouse, table)
        full = rows_digest(spark, fortnight["full"].warehouse, table)
        print(f"{table}: {inc[1]} rows, nightly {inc[0][:12]} vs rebuild {full[0][:12]}")
        assert inc[1] > 0
        assert inc == full, table


def test_every_event_is_in_one_journey(spark, fortnight):
    wh = fortnight["full"].warehouse
    events = read_table(spark, wh, "events")
    je = read_table(spark, wh, "journey_events")
    assert je.count() == events.count() == je.select("event_id").distinct().count()
    customers = read_table(spark, wh, "customers").select("customer_key")
    assert je.join(customers, "customer_key", "left_anti").count() == 0
    journeys = read_table(spark, wh, "journeys")
    assert je.select("journey_id").distinct().count() == journeys.count()
    statuses = {r["status"]: r["count"] for r in journeys.groupBy("status").count().collect()}
    print("journeys by status:", statuses)
    # open journeys need recent events: tests/test_journey_rules.py covers them
    assert statuses.get("converted", 0) > 0 and statuses.get("dropped", 0) > 0


# ---------------------------------------------------------------- independent reference


def _h(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _stage(e: dict, rules) -> str | None:
    for r in rules:
        ok = ((r.source is None or e["source"] in r.source) and (r.channel is None or e["channel"] in r.channel)
              and (r.event_type is None or e["event_type"] in r.event_type)
              and (r.page_path is None or (e["page_path"] is not None and re.fullmatch(r.page_path, e["page_path"])))
              and (r.touchpoint is None or re.fullmatch(r.touchpoint, e["touchpoint"])))
        if ok:
            return "inherit" if r.inherit else r.stage
    return None


def reference(events: list[dict], config, as_of: datetime) -> tuple[dict, dict]:
    """Plain-Python sessions, journeys and stages: (event_id -> row, journey_id -> summary)."""
    j = config.journeys
    timeout = timedelta(days=config.windows.journey_timeout_days)
    gap = timedelta(minutes=config.windows.session_gap_minutes)
    by_customer = defaultdict(list)
    for e in events:
        by_customer[e["customer_key"]].append(e)
    out, journeys = {}, {}
    for ck, evs in by_customer.items():
        evs.sort(key=lambda e: (e["event_at"], e["event_type"] in j.goal_event_types,
                                SOURCE_RANK[e["source"]], e["event_id"]))
        prev, journey, step, last_stage = None, None, 0, None
        sessions = {}
        for e in evs:
            goal = e["event_type"] in j.goal_event_types
            if prev is None or prev["event_type"] in j.goal_event_types or e["event_at"] - prev["event_at"] >= timeout:
                journey, step, last_stage = _h("journey", ck, e["event_id"]), 0, None
                journeys[journey] = {"events": [], "sessions": set()}
            step += 1
            ch = e["channel"]
            if ch not in sessions or e["event_at"] - sessions[ch][1] > gap:
                sessions[ch] = [_h("session", ck, ch, e["event_id"]), e["event_at"]]
            sessions[ch][1] = e["event_at"]
            stage = _stage(e, j.stage_rules)
            if stage == "inherit":
                stage = last_stage
            if stage is not None:
                last_stage = stage
            row = {"journey_id": journey, "session_id": sessions[ch][0], "step_number": step, "stage": stage}
            out[e["event_id"]] = row
            journeys[journey]["events"].append((e, stage, goal))
            journeys[journey]["sessions"].add(sessions[ch][0])
            prev = e
    summaries = {}
    for jid, data in journeys.items():
        evs = data["events"]
        last = evs[-1][0]
        converted = evs[-1][2]
        reached = [s for s in j.stages if any(st == s for _, st, _ in evs)]
        level, closed = 0, []
        for _, st, _ in evs:
            if st is not None and level < len(j.stages) and st == j.stages[level]:
                closed.append(st)
                level += 1
        status = "converted" if converted else ("dropped" if as_of - last["event_at"] >= timeout else "open")
        summaries[jid] = {"status": status, "n_events": len(evs), "n_sessions": len(data["sessions"]),
                          "stages_reached": reached, "stages_reached_closed": closed,
                          "started_at": evs[0][0]["event_at"], "ended_at": last["event_at"]}
    return out, summaries


def test_spark_matches_plain_python_reference(spark, fortnight):
    cfg, wh = fortnight["full"], fortnight["full"].warehouse
    je = read_table(spark, wh, "journey_events")
    cols = ["event_id", "customer_key", "event_at", "source", "channel", "event_type", "touchpoint", "page_path"]
    events = [r.asDict() for r in je.select(*cols).collect()]
    as_of = datetime.combine(fortnight["dates"][-1] + timedelta(days=1), datetime.min.time())
    expected_rows, expected_journeys = reference(events, cfg, as_of)
    got = {r["event_id"]: r.asDict() for r in je.select("event_id", "journey_id", "session_id", "step_number",
                                                         "stage").collect()}
    mismatched = [k for k, v in expected_rows.items() if {f: got[k][f] for f in v} != v]
    assert not mismatched, f"{len(mismatched)} events differ, e.g. {expected_rows[mismatched[0]]} vs {got[mismatched[0]]}"
    journeys = {r["journey_id"]: r.asDict() for r in read_table(spark, wh, "journeys").collect()}
    assert set(journeys) == set(expected_journeys)
    for jid, exp in expected_journeys.items():
        assert {f: journeys[jid][f] for f in exp} == exp, jid
    print(f"reference agrees on {len(expected_rows)} events and {len(expected_journeys)} journeys")


# ---------------------------------------------------------------- identity vs ground truth


def _truth_ids(raw: Path) -> dict[tuple[str, str], tuple[str, bool]]:
    """(id_type, id_value as the pipeline writes it) -> (person, is_shared)."""
    out = {}
    kinds = {"anonymous_id": "anonymous_id", "user_id": "user_id", "customer_id": "customer_id",
             "email": "email_hash", "phone": "phone_hash"}
    with open(raw / "ground_truth" / "identities.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            value = r["id_normalized"]
            if r["id_type"] in ("email", "phone"):
                value = hmac.new(KEY.secret, value.encode(), hashlib.sha256).hexdigest()
            key = (kinds[r["id_type"]], value)
            shared = r["is_shared"] == "true" or (key in out and out[key][0] != r["person_id"])
            out[key] = (r["person_id"], shared)
    return out


def _pairs(groups: dict) -> set:
    pairs = set()
    for members in groups.values():
        m = sorted(members)
        pairs.update((a, b) for i, a in enumerate(m) for b in m[i + 1:])
    return pairs


def test_identity_precision_and_recall_against_ground_truth(spark, fortnight):
    wh = fortnight["full"].warehouse
    truth = _truth_ids(fortnight["raw"])
    imap = {(r["id_type"], r["id_value"]): r["customer_key"]
            for r in read_table(spark, wh, "identity_map").collect()}
    # observable evidence: ids seen together in the data, both of one person and not shared
    links = spark.read.parquet(f"{wh}/_state/identity_links").collect()
    types = {"a": "anonymous_id", "u": "user_id", "c": "customer_id", "e": "email_hash", "p": "phone_hash"}
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for link in links:
        a, b = ((types[n[0]], n[2:]) for n in (link["a"], link["b"]))
        ta, tb = truth.get(a), truth.get(b)
        if ta and tb and ta[0] == tb[0] and not ta[1] and not tb[1]:
            parent[find(a)] = find(b)
    universe = [k for k, (_, shared) in truth.items() if not shared and k in imap]
    truth_groups, predicted = defaultdict(set), defaultdict(set)
    for k in universe:
        truth_groups[find(k)].add(k)
        predicted[imap[k]].add(k)
    linked, said = _pairs(truth_groups), _pairs(predicted)
    same_person = {p for p in said if truth[p[0]][0] == truth[p[1]][0]}
    precision = len(same_person) / len(said)
    recall = len(linked & said) / len(linked)
    print(f"identity: {len(universe)} ids, {len(said)} predicted pairs, {len(linked)} observable pairs; "
          f"precision {precision:.4f}, recall {recall:.4f}")
    assert len(linked) > 100
    assert precision >= 0.99 and recall >= 0.98
