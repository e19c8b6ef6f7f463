"""Five generated days (seven arrival dates) through identity and journeys, night by night
and as one rebuild: the tables must be identical, must match an independent plain-Python
reference, and identities must match the generator's ground truth."""
from __future__ import annotations

import hashlib
import re
import shutil
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from jobs import steps
from jobs.analytics.analyse import TABLES as ANALYTICS_TABLES
from jobs.generator import generate
from jobs.generator.identity_score import score, truth_ids
from jobs.normalize.pii import PiiKey
from jobs.pipeline import normalize
from jobs.storage import read_table
from tests.conftest import FramesLeftAlive, cached_plans

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
    generate(raw, customers=40, days=5, seed=21)
    sources = {s: {"path": str(raw / s)} for s in SOURCES}
    # a short window and timeout so seven nights exercise the cursor, expiry and re-stitching
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
    nightly, left_stored, left_alive = [], [], []
    stored = lambda: set(spark.sparkContext._jsc.getPersistentRDDs().keySet())  # noqa: E731
    with FramesLeftAlive() as alive:
        for day in dates:
            before, plans_before = stored(), cached_plans(spark)
            nightly.append(steps.build_step(spark, inc, day))
            steps.publish_step(spark, inc, day)
            left_stored.append((stored() - before, cached_plans(spark) - plans_before))
            left_alive.append(alive())
    first = read_table(spark, full.warehouse, "events").agg(F.min("event_date")).first()[0]
    rebuild = steps.build_step(spark, full, dates[-1], window_start=first)
    steps.publish_step(spark, full, dates[-1])
    return {"raw": raw, "inc": inc, "full": full, "dates": dates, "nightly": nightly, "rebuild": rebuild,
            "left_stored": left_stored, "left_alive": left_alive}


def test_a_night_leaves_nothing_stored_in_the_session(fortnight):
    """`journeys run` over a range and the benchmarks keep one session for every night: a cached
    frame or checkpoint left behind by each night ended a 30-night run in a driver OOM."""
    assert fortnight["left_stored"] == [(set(), 0)] * len(fortnight["dates"])
    # nor a frame that only Python's full collection would free, with its JVM plans and broadcasts
    assert fortnight["left_alive"] == [0] * len(fortnight["dates"])


def test_incremental_equals_full_rebuild(spark, fortnight):
    assert len(fortnight["dates"]) >= 7
    for table in COMPARED:
        inc = rows_digest(spark, fortnight["inc"].warehouse, table)
        full = rows_digest(spark, fortnight["full"].warehouse, table)
        print(f"{table}: {inc[1]} rows, nightly {inc[0][:12]} vs rebuild {full[0][:12]}")
        assert inc[1] > 0
        assert inc == full, table


def test_rerunning_an_earlier_night_leaves_every_table_identical(spark, fortnight):
    """An operator reruns a night after later nights were built: the derived tables are rebuilt
    as of the latest night, so nothing may change (tests/test_airflow_e2e.py reruns through
    Airflow the latest night)."""
    inc, day = fortnight["inc"], fortnight["dates"][-4]
    before = {t: rows_digest(spark, inc.warehouse, t) for t in COMPARED}
    rerun = steps.build_step(spark, inc, day)
    steps.publish_step(spark, inc, day)
    assert any("later nights are built" in w for w in rerun.warnings), rerun.warnings
    for table in COMPARED:
        assert rows_digest(spark, inc.warehouse, table) == before[table], table


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


def test_identity_precision_and_recall_against_ground_truth(spark, fortnight):
    wh = fortnight["full"].warehouse
    truth = truth_ids(fortnight["raw"], KEY.secret)
    imap = [(r["id_type"], r["id_value"], r["customer_key"])
            for r in read_table(spark, wh, "identity_map").collect()]
    links = [(r["a"], r["b"]) for r in spark.read.parquet(f"{wh}/_state/identity_links").collect()]
    s = score(truth, imap, links)
    print(f"identity: {s['ids_scored']} ids, {s['predicted_pairs']} predicted pairs, {s['observable_pairs']} "
          f"observable pairs; precision {s['precision']:.4f}, recall {s['recall']:.4f}")
    assert s["observable_pairs"] > 100
    assert s["precision"] >= 0.99 and s["recall"] >= 0.98
