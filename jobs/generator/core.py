"""generate(): the whole synthetic world, written as raw files plus ground truth."""
from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.generator import catalog as C
from jobs.generator import params as P
from jobs.generator import truth as T
from jobs.generator.calls import CALL_COLUMNS, DRIFT_CALL_COLUMNS, KINDS as CALL_KINDS, build_calls
from jobs.generator.clickstream import E, deliver, expand, write_clickstream
from jobs.generator.crm import (ACTIVITY_TYPES, CUSTOMER_COLUMNS, build_activities, build_customers,
                                customer_created)
from jobs.generator.csvsrc import deliver_csv, write_csv
from jobs.generator.population import build_population
from jobs.generator.simulate import simulate
from jobs.generator.util import MS_DAY, OffsetTable, e164, stream, uuid_matrix

SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
OWNED = SOURCES + ("ground_truth",)


def generate(out_dir: str | Path, customers: int, days: int, seed: int,
             start_date: date = date(2026, 1, 5), malformed_rate: float = 0.005) -> dict:
    """Write all sources and the ground truth under out_dir; return a JSON-serialisable summary.

    The same arguments always give byte-identical files. The folders this function owns
    (clickstream/, crm_customers/, crm_activities/, calls/, ground_truth/) are replaced."""
    t_begin = time.perf_counter()
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be at least 1")
    if not 0 <= malformed_rate < 0.5:
        raise ValueError("malformed_rate must be in [0, 0.5)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in OWNED:
        if (out / name).exists():
            shutil.rmtree(out / name)

    start_ms = int(datetime(start_date.year, start_date.month, start_date.day, tzinfo=timezone.utc).timestamp() * 1000)
    end_ms = start_ms + days * MS_DAY
    start_day = start_ms // MS_DAY
    drift_day = start_day + days // 2
    zones = [r[1] for r in P.REGIONS]
    tz = OffsetTable(zones, start_ms - 4 * MS_DAY, (days + 20) * 24)
    cc = OffsetTable([P.CALL_CENTRE_TZ], start_ms - 4 * MS_DAY, (days + 20) * 24)

    pop = build_population(customers, seed, start_ms)
    sim = simulate(pop, start_ms, end_ms, seed, tz, cc)
    site = C.Site()
    ev = expand(sim, pop, site, seed, start_ms, end_ms)
    dlv = deliver(ev, pop, seed, malformed_rate)
    person_zone = pop.region

    eid = uuid_matrix(np.arange(ev.n, dtype=np.uint64), seed * 7 + 1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures, click_files = write_clickstream(out, ev, dlv, pop, site, tz, person_zone, seed, drift_day, eid,
                                                 pool)

        # CSV sources are built while the clickstream parts compress
        purch = ev.cols["etype"] == E["purchase"]
        created = customer_created(pop, sim, ev.cols["person"][purch], ev.cols["t_true"][purch], seed)
        cust = build_customers(pop, created, start_ms, end_ms, seed, drift_day)
        acts = build_activities(pop, sim, ev, created, start_ms, end_ms, seed, tz, person_zone)
        calls = build_calls(pop, sim, created, start_ms, end_ms, seed, cc)
        d_cust = deliver_csv(cust.table, stream(seed, "crm_customers-lines"), malformed_rate)
        d_acts = deliver_csv(acts.table, stream(seed, "crm_activities-lines"), malformed_rate)
        d_calls = deliver_csv(calls.table, stream(seed, "calls-lines"), malformed_rate)
        write_csv(out, cust.table, d_cust,
                  lambda d: CUSTOMER_COLUMNS + (["loyalty_tier"] if d == drift_day else []),
                  stream(seed, "crm_customers-defects"))
        write_csv(out, acts.table, d_acts, lambda d: acts.table.columns, stream(seed, "crm_activities-defects"))
        write_csv(out, calls.table, d_calls, lambda d: DRIFT_CALL_COLUMNS if d == drift_day else CALL_COLUMNS,
                  stream(seed, "calls-defects"))

        # ------------------------------------------------------------ ground truth
        gt = out / "ground_truth"
        click = T.clickstream_lines(ev, dlv, pop, click_files, out)
        click["source_event_id"] = eid[click["event_index"].to_numpy()].view("S36").ravel().astype("U36").astype(object)

        act_type = np.asarray(ACTIVITY_TYPES, dtype=object)[acts.atype]
        act_event = np.where(acts.atype == 0, "order_placed",
                             np.where(acts.atype == 3, "return_opened",
                                      act_type + np.where(acts.version == 1, "_closed", "_opened"))).astype(object)
        acts_df = T.csv_lines_truth("crm_activities", d_acts, acts.activity_id, acts.person, acts.event_ms,
                                    act_event, acts.friction)
        calls_df = T.csv_lines_truth("calls", d_calls, calls.call_id, calls.person, calls.start_ms,
                                     np.asarray([f"call_{k}" for k in CALL_KINDS], dtype=object)[calls.kind],
                                     calls.friction)
        acts_df = T.attach_journeys(acts_df, click)
        calls_df = T.attach_journeys(calls_df, click)
        truth_df = T.concat_lines([click, acts_df, calls_df])
        T.write_events_truth(gt / "events_truth.parquet", truth_df, pop)

        cust_df = _customer_lines(d_cust, cust)
        T.write_persons(gt / "persons.csv", pop, created, end_ms)
        ids = T.identity_rows(_identity_parts(pop, ev, dlv, click, cust, d_cust, acts, d_acts, calls, d_calls))
        T.write_identities(gt / "identities.csv", ids, pop)

        journeys = T.journeys_table(click, pop)
        T._json(gt / "funnel.json", T.funnel_json(journeys))
        T._json(gt / "friction.json", T.friction_json(journeys, click, sim.sessions, calls_df, acts_df, sim.calls))
        mal = T.malformed_frame([click, cust_df, acts_df, calls_df])
        T.write_malformed(gt / "malformed.csv", mal)

        summary = _summary(locals())
        T._json(gt / "summary.json", summary)
        for f in futures:
            f.result()
    elapsed = time.perf_counter() - t_begin
    result = dict(summary)
    result["seconds_elapsed"] = round(elapsed, 3)
    result["clickstream_events_per_second"] = round(summary["events"] / elapsed, 1) if elapsed > 0 else None
    return result


def _customer_lines(d, cust) -> pd.DataFrame:
    t = cust.table
    return T.csv_lines_truth("crm_customers", d, t.text["customer_id"], cust.person,
                             np.zeros(len(cust.person), np.int64), np.full(len(cust.person), "customer", object),
                             np.full(len(cust.person), "", object))


def _identity_parts(pop, ev, dlv, click, cust, d_cust, acts, d_acts, calls, d_calls) -> list[pd.DataFrame]:
    base = np.int64(4_000_000_000)

    def order(day, rank, pos):
        return np.asarray(day, np.int64) * base + rank * 1_000_000_000 + np.asarray(pos, np.int64)

    parts = []
    c = ev.cols
    e = dlv.ev
    o = order(dlv.folder_day, 3, np.arange(len(e)))
    # one row per (device, person) and (user, person): the first line that wrote it
    for id_type, ident, mask in (("anonymous_id", c["dev"][e], np.ones(len(e), bool)),
                                 ("user_id", c["person"][e], c["logged_in"][e])):
        key = ident[mask].astype(np.int64) * pop.n + c["person"][e][mask]
        om = o[mask]
        srt = np.lexsort((om, key))
        first = srt[np.r_[True, key[srt][1:] != key[srt][:-1]]] if len(srt) else srt
        person = c["person"][e][mask][first]
        value = (pop.dev_anon[ident[mask][first]] if id_type == "anonymous_id"
                 else pop.user_id[ident[mask][first]])
        parts.append(pd.DataFrame({"id_type": id_type, "id_value": value, "id_normalized": value,
                                   "person": person, "order": om[first]}))
    # CRM customers rows
    r = d_cust.row
    tx = cust.table.text
    p = cust.person[r]
    oc = order(d_cust.folder_day, 0, d_cust.line_no)
    ok = np.ones(len(r), bool)      # malformed rows too: their defect never touches an id column
    for id_type, raw, norm in (
        ("customer_id", tx["customer_id"][r], tx["customer_id"][r]),
        ("email", tx["email"][r], pd.Series(tx["email"][r], dtype=object).str.strip().str.lower().to_numpy(object)),
        ("phone", tx["phone"][r], np.where(tx["phone"][r] == "", "", e164(pop.crm_phone[p]))),
        ("user_id", tx["web_user_id"][r], tx["web_user_id"][r]),
    ):
        parts.append(pd.DataFrame({"id_type": id_type, "id_value": raw[ok], "id_normalized": norm[ok],
                                   "person": p[ok], "order": oc[ok]}))
    # activities and calls
    r = d_acts.row
    ok = np.ones(len(r), bool)
    cid = acts.table.text["customer_id"][r]
    parts.append(pd.DataFrame({"id_type": "customer_id", "id_value": cid[ok], "id_normalized": cid[ok],
                               "person": acts.person[r][ok], "order": order(d_acts.folder_day, 1, d_acts.line_no)[ok]}))
    r = d_calls.row
    ok = np.ones(len(r), bool)
    oc = order(d_calls.folder_day, 2, d_calls.line_no)
    cid = calls.table.text["customer_id"][r]
    parts.append(pd.DataFrame({"id_type": "customer_id", "id_value": cid[ok], "id_normalized": cid[ok],
                               "person": calls.person[r][ok], "order": oc[ok]}))
    num = calls.number[r]
    raw = calls.table.text["caller_number"][r]
    norm = np.where(num >= 0, e164(np.maximum(num, 0)), "")
    parts.append(pd.DataFrame({"id_type": "phone", "id_value": raw[ok], "id_normalized": norm[ok],
                               "person": calls.person[r][ok], "order": oc[ok]}))
    return parts


def _summary(v: dict) -> dict:
    click, cust_df, acts_df, calls_df = v["click"], v["cust_df"], v["acts_df"], v["calls_df"]
    ev, pop, dlv = v["ev"], v["pop"], v["dlv"]
    dates = sorted(set(T._day_str(np.unique(np.concatenate([
        click["arrival_day"].to_numpy(), cust_df["arrival_day"].to_numpy(), acts_df["arrival_day"].to_numpy(),
        calls_df["arrival_day"].to_numpy()]))).tolist()))
    cs = T.source_summary(click, "extra copies of a line with an event_id already delivered (same or next folder)")
    orig = click[~click["is_duplicate_delivery"]]
    cs["events"] = int(ev.n)
    cs["bot_events"] = int(pop.is_bot[ev.cols["person"]].sum())
    cs["late"] = int(orig["is_late"].sum())
    cs["late_beyond_window"] = int(orig["is_late_beyond_window"].sum())
    cs["skewed_devices"] = int((pop.dev_skew_ms != 0).sum())
    cu = T.source_summary(cust_df, "rows repeating the customer_id of another row in the same file "
                                   "(they are exact copies; a file holds one version per customer)")
    cu["customers"] = int(cust_df.loc[~cust_df["is_duplicate_delivery"], "source_event_id"].nunique())
    ac = T.source_summary(acts_df, "exact copies of another row of the same file (same activity_id and updated_at); "
                                   "a case's closed version is a new version, not a duplicate")
    ca = T.source_summary(calls_df, "exact copies of another row of the same file (same call_id)")
    return {
        "generator": "jobs.generator",
        "parameters": {"customers": int(v["customers"]), "days": int(v["days"]), "seed": int(v["seed"]),
                       "start_date": v["start_date"].isoformat(), "malformed_rate": float(v["malformed_rate"])},
        "arrival_dates": dates,
        "schema_drift_date": str(T._day_str(np.asarray([v["drift_day"]]))[0]),
        "persons": int(pop.n_humans),
        "bots": int(pop.is_bot.sum()),
        "events": int(ev.n),
        "rows": {"clickstream": cs["lines"], "crm_customers": cu["lines"], "crm_activities": ac["lines"],
                 "calls": ca["lines"]},
        "duplicates": {"clickstream": cs["duplicates"], "crm_customers": cu["duplicates"],
                       "crm_activities": ac["duplicates"], "calls": ca["duplicates"]},
        "late": cs["late"],
        "late_beyond_window": cs["late_beyond_window"],
        "malformed": {"clickstream": cs["malformed"], "crm_customers": cu["malformed"],
                      "crm_activities": ac["malformed"], "calls": ca["malformed"]},
        "sources": {"clickstream": cs, "crm_customers": cu, "crm_activities": ac, "calls": ca},
    }
