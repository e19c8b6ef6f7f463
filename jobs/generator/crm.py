"""CRM customers (snapshot + daily increments) and CRM activities (orders, cases, complaints, returns)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generator import catalog as C
from jobs.generator import params as P
from jobs.generator.clickstream import B_PUR, E, Events, order_ids
from jobs.generator.csvsrc import CsvTable
from jobs.generator.population import Population
from jobs.generator.simulate import Sim
from jobs.generator.util import (EMAIL_VARIANT_WEIGHTS, MS_DAY, MS_HOUR, OffsetTable, email_variant, hex_words, mix64,
                                 permuted_numbers, phone_text, sql_seconds, stream, zero_pad, PHONE_FORMAT_WEIGHTS)

CUSTOMER_COLUMNS = ["customer_id", "email", "phone", "first_name", "last_name", "web_user_id", "segment", "region",
                    "created_at", "updated_at"]
ACTIVITY_COLUMNS = ["activity_id", "customer_id", "activity_type", "channel", "category", "amount", "status",
                    "opened_at", "closed_at", "csat_score", "updated_at"]
CHANNELS = ("web", "app", "store", "phone", "email")


def customer_created(pop: Population, sim: Sim, purchase_person: np.ndarray, purchase_ms: np.ndarray,
                     seed: int) -> np.ndarray:
    """When each person became a CRM customer (ms), -1 if never."""
    rng = stream(seed, "crm-created")
    n = pop.n
    created = np.where(pop.cid_initial, pop.created_ms, -1).astype(np.int64)
    first_buy = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_buy, purchase_person, purchase_ms)
    signup = np.full(n, np.iinfo(np.int64).max)
    signup[: pop.n_humans] = np.where(sim.signup_cid_ms >= 0, sim.signup_cid_ms, np.iinfo(np.int64).max)
    # an account is created during checkout, a little before the purchase
    buy_created = np.where(first_buy < np.iinfo(np.int64).max,
                           (first_buy - rng.integers(5_000, 60_000, n)) // 1000 * 1000, np.iinfo(np.int64).max)
    new = np.minimum(signup, buy_created)
    created = np.where((created < 0) & (new < np.iinfo(np.int64).max), new, created)
    return created


@dataclass
class CustomerVersions:
    table: CsvTable
    person: np.ndarray
    is_first: np.ndarray


def build_customers(pop: Population, created: np.ndarray, start_ms: int, end_ms: int, seed: int,
                    drift_day: int) -> CustomerVersions:
    rng = stream(seed, "crm-customers")
    cust = np.flatnonzero((created >= 0) & (created < end_ms - 1000))
    k = len(cust)
    days = (end_ms - start_ms) / MS_DAY
    # first version
    c_ms = created[cust]
    first_upd = np.where(c_ms < start_ms, c_ms + (rng.random(k) * (start_ms - 1000 - c_ms)).astype(np.int64),
                         c_ms + rng.integers(0, 5 * 60_000, k))
    first_upd = np.minimum(first_upd, end_ms - 1000) // 1000 * 1000
    # updates during the period
    n_upd = rng.poisson(P.CUSTOMER_UPDATES_PER_DAY * days, k)
    up_person = np.repeat(cust, n_upd)
    lo = np.maximum(np.repeat(first_upd, n_upd) + 1000, start_ms)
    up_ms = lo + (rng.random(len(up_person)) * np.maximum(end_ms - 1000 - lo, 0)).astype(np.int64)
    up_ms = up_ms // 1000 * 1000
    person = np.concatenate([cust, up_person])
    upd = np.concatenate([first_upd, up_ms])
    is_first = np.concatenate([np.ones(k, bool), np.zeros(len(up_person), bool)])
    keep = upd < end_ms
    person, upd, is_first = person[keep], upd[keep], is_first[keep]
    folder = np.maximum(upd // MS_DAY, start_ms // MS_DAY)
    # one version per customer and file: the last of the day
    order = np.lexsort((upd, folder, person))
    person, upd, folder = person[order], upd[order], folder[order]
    last_of = np.r_[(person[1:] != person[:-1]) | (folder[1:] != folder[:-1]), True][:len(person)]
    person, upd, folder = person[last_of], upd[last_of], folder[last_of]
    # the first row written for a customer; later rows are updates
    is_first = np.r_[True, person[1:] != person[:-1]][:len(person)]
    m = len(person)

    ev = rng.choice(len(EMAIL_VARIANT_WEIGHTS), size=m, p=EMAIL_VARIANT_WEIGHTS)
    email = np.where(pop.no_email[person], "", email_variant(pop.email[person], ev)).astype(object)
    fmt = rng.choice(len(PHONE_FORMAT_WEIGHTS), size=m, p=PHONE_FORMAT_WEIGHTS)
    is_sb = pop.crm_phone[person] != pop.phone[person]
    ext = np.where((rng.random(m) < np.where(is_sb, 0.4, 0.03)), rng.integers(2, 400, m), 0)
    phone = np.where(pop.no_phone[person], "", phone_text(pop.crm_phone[person], fmt, ext)).astype(object)
    later_web = pop.has_user & ~pop.web_user_in_crm & (stream(seed, "crm-web").random(pop.n) < 0.5)
    web = np.where(pop.web_user_in_crm[person] | (later_web[person] & ~is_first), pop.user_id[person], "")
    region = np.asarray([r[0] for r in P.REGIONS], dtype=object)[pop.region[person]]
    text = {
        "customer_id": pop.customer_id[person],
        "email": email,
        "phone": phone,
        "first_name": pop.first_name[person],
        "last_name": pop.last_name[person],
        "web_user_id": web.astype(object),
        "segment": np.asarray(P.SEGMENTS, dtype=object)[pop.segment[person]],
        "region": region,
        "created_at": sql_seconds(created[person]),
        "updated_at": sql_seconds(upd),
    }
    tier = np.asarray(P.LOYALTY_TIERS, dtype=object)[rng.integers(0, len(P.LOYALTY_TIERS), m)]
    t = CsvTable(source="crm_customers", filename="customers.csv", columns=CUSTOMER_COLUMNS, text=text,
                 folder_day=folder, sort_key=person.astype(np.int64), malformed_ok=~is_first,
                 p_duplicate=P.P_DUPLICATE_CUSTOMER_ROW, extra={"loyalty_tier": tier})
    return CustomerVersions(table=t, person=person, is_first=is_first)


@dataclass
class Activities:
    table: CsvTable
    person: np.ndarray
    activity_id: np.ndarray
    atype: np.ndarray        # index into ACTIVITY_TYPES
    version: np.ndarray      # 0 open/placed, 1 closed
    event_ms: np.ndarray     # opened (version 0) or closed (version 1)
    updated_ms: np.ndarray
    friction: np.ndarray     # '' or friction name
    journey_hint: np.ndarray


ACTIVITY_TYPES = ("order", "case", "complaint", "return")


def build_activities(pop: Population, sim: Sim, ev: Events, created: np.ndarray, start_ms: int, end_ms: int,
                     seed: int, tz: OffsetTable, person_zone: np.ndarray) -> Activities:
    rng = stream(seed, "crm-activities")
    c = ev.cols
    # ------------------------------------------------------------- web orders = clickstream purchases
    pm = np.flatnonzero((c["etype"] == E["purchase"]) & (c["block"] == B_PUR) & (c["t_true"] < end_ms - 1000))
    w_sess = c["sess"][pm]
    w_person = c["person"][pm]
    w_ms = c["t_true"][pm] // 1000 * 1000
    w_prod = sim.sessions["product"][w_sess]
    w_qty = sim.sessions["qty"][w_sess]
    w_chan = np.where(sim.sessions["dev_type"][w_sess] == 3, 1, 0)
    w_id = order_ids(w_sess, seed)
    # ------------------------------------------------------------- store orders
    cust = np.flatnonzero((created >= 0) & (created < end_ms - 1000))
    days = (end_ms - start_ms) // MS_DAY
    n_store = rng.poisson(P.STORE_ORDERS_PER_DAY * days, len(cust))
    s_person = np.repeat(cust, n_store)
    day = rng.integers(0, days, len(s_person))
    local_noon = start_ms + day * MS_DAY + rng.integers(10 * MS_HOUR, 19 * MS_HOUR, len(s_person))
    off = tz.offset_minutes(person_zone[s_person], local_noon).astype(np.int64) * 60_000
    s_ms = (local_noon - off) // 1000 * 1000
    ok = (s_ms >= np.maximum(created[s_person], start_ms)) & (s_ms < end_ms)
    s_person, s_ms = s_person[ok], s_ms[ok]
    s_prod = rng.choice(C.N_PRODUCTS, size=len(s_person), p=C.PRODUCT_POPULARITY)
    s_qty = 1 + (rng.random(len(s_person)) < 0.15)
    s_id = np.char.add("o-", hex_words(mix64(np.arange(len(s_person), dtype=np.uint64) + np.uint64(1 << 40),
                                             seed * 1009 + 11)).astype("U12")).astype(object)
    o_person = np.concatenate([w_person, s_person])
    o_ms = np.concatenate([w_ms, s_ms])
    o_prod = np.concatenate([w_prod, s_prod])
    o_qty = np.concatenate([w_qty, s_qty])
    o_chan = np.concatenate([w_chan, np.full(len(s_person), 2)])
    o_id = np.concatenate([w_id, s_id])
    o_amount = C.PRODUCT_PRICE_CENTS[o_prod] * o_qty
    o_upd = np.minimum(o_ms + rng.integers(30_000, 600_000, len(o_ms)), end_ms - 1000) // 1000 * 1000
    o_upd = np.maximum(o_upd, o_ms)
    # ------------------------------------------------------------- returns
    ret = rng.random(len(o_ms)) < P.P_RETURN
    r_ms = (o_ms + rng.integers(2 * MS_DAY, 10 * MS_DAY, len(o_ms)))[ret] // 1000 * 1000
    keep = r_ms < end_ms
    r_src = np.flatnonzero(ret)[keep]
    r_ms = r_ms[keep]
    # ------------------------------------------------------------- cases and complaints (open + closed versions)
    ca = sim.cases
    n_bg = rng.poisson(P.BACKGROUND_CASES_PER_DAY * days, len(cust))
    bg_person = np.repeat(cust, n_bg)
    bg_ms = start_ms + rng.integers(0, end_ms - start_ms, len(bg_person))
    okb = bg_ms >= created[bg_person]
    bg_person, bg_ms = bg_person[okb], bg_ms[okb]
    cm = sim.complaints
    k_case = len(ca.get("person", [])) if ca else 0
    k_cmp = len(cm.get("person", [])) if cm else 0
    case_person = np.concatenate([ca["person"] if k_case else np.zeros(0, np.int64), bg_person,
                                  cm["person"] if k_cmp else np.zeros(0, np.int64)])
    case_ms = np.concatenate([ca["opened_ms"] if k_case else np.zeros(0, np.int64), bg_ms,
                              cm["opened_ms"] if k_cmp else np.zeros(0, np.int64)]) // 1000 * 1000
    case_type = np.concatenate([np.ones(k_case + len(bg_person), np.int64), np.full(k_cmp, 2)])
    cat_bg = np.asarray(["delivery", "product_question", "account", "warranty"], dtype=object)
    case_cat = np.concatenate([
        np.where(ca["category"] == 0, "payment", "order_support").astype(object) if k_case else np.zeros(0, object),
        cat_bg[rng.integers(0, len(cat_bg), len(bg_person))],
        np.where(cm["category"] == 0, "payment", "call_experience").astype(object) if k_cmp else np.zeros(0, object),
    ])
    case_chan = np.concatenate([
        ca["channel"] if k_case else np.zeros(0, np.int64),
        rng.choice([0, 3, 4], size=len(bg_person), p=[0.3, 0.3, 0.4]),
        np.where(cm["via_call"], 3, 4) if k_cmp else np.zeros(0, np.int64),
    ])
    case_fr = np.concatenate([np.zeros(k_case + len(bg_person), bool), np.ones(k_cmp, bool)])
    keepc = case_ms < end_ms
    case_person, case_ms, case_type, case_cat, case_chan, case_fr = (
        a[keepc] for a in (case_person, case_ms, case_type, case_cat, case_chan, case_fr))
    nc = len(case_person)
    close_ms = case_ms + 600_000 + rng.exponential(P.CASE_CLOSE_MEAN_DAYS * MS_DAY, nc).astype(np.int64)
    close_ms = close_ms // 1000 * 1000
    open_upd = np.minimum(case_ms + rng.integers(0, 600_000, nc), end_ms - 1000) // 1000 * 1000
    open_upd = np.maximum(open_upd, case_ms)
    closed = close_ms + 300_000 < end_ms
    close_upd = (close_ms + rng.integers(0, 300_000, nc)) // 1000 * 1000
    csat_w_bad = np.asarray([30, 25, 20, 15, 10], float)
    csat_w_good = np.asarray([5, 8, 17, 35, 35], float)
    csat = np.where(case_type == 2, rng.choice(5, nc, p=csat_w_bad / csat_w_bad.sum()),
                    rng.choice(5, nc, p=csat_w_good / csat_w_good.sum())) + 1
    has_csat = closed & (rng.random(nc) < P.P_CSAT)
    numbers = permuted_numbers(nc + len(r_src), 10**9, stream(seed, "activity-ids"))
    case_ids = np.char.add("ACT-", zero_pad(numbers, 9)).astype(object)

    # ------------------------------------------------------------- assemble rows
    no = len(o_ms)
    nr = len(r_src)
    ci = np.flatnonzero(closed)
    rows_person = np.concatenate([o_person, o_person[r_src], case_person, case_person[ci]])
    rows_id = np.concatenate([o_id, case_ids[nc:], case_ids[:nc], case_ids[:nc][ci]])
    rows_type = np.concatenate([np.zeros(no, np.int64), np.full(nr, 3), case_type, case_type[ci]])
    rows_version = np.concatenate([np.zeros(no + nr + nc, np.int64), np.ones(len(ci), np.int64)])
    rows_chan = np.concatenate([o_chan, rng.choice([0, 2, 4], size=nr, p=[0.4, 0.4, 0.2]), case_chan, case_chan[ci]])
    prod_cat = np.asarray(C.CATEGORIES, dtype=object)[C.PRODUCT_CATEGORY]
    rows_cat = np.concatenate([prod_cat[o_prod], prod_cat[o_prod[r_src]], case_cat, case_cat[ci]])
    amount_c = np.concatenate([o_amount, o_amount[r_src], np.full(nc + len(ci), -1)])
    status = np.concatenate([
        np.full(no, "completed", dtype=object), np.full(nr, "refunded", dtype=object),
        np.where(case_type == 2, "open", "open").astype(object),
        np.where(case_type[ci] == 2, "resolved", "closed").astype(object)])
    opened = np.concatenate([o_ms, r_ms, case_ms, case_ms[ci]])
    closed_at = np.concatenate([np.full(no + nr + nc, -1), close_ms[ci]])
    csat_v = np.concatenate([np.full(no + nr + nc, -1), np.where(has_csat[ci], csat[ci], -1)])
    r_upd = np.minimum(r_ms + rng.integers(0, 600_000, nr), end_ms - 1000) // 1000 * 1000
    updated = np.concatenate([o_upd, np.maximum(r_upd, r_ms), open_upd, close_upd[ci]])
    event_ms = np.concatenate([o_ms, r_ms, case_ms, close_ms[ci]])
    friction = np.concatenate([np.full(no + nr, "", dtype=object),
                               np.where(case_fr, "complaint", "").astype(object),
                               np.where(case_fr[ci], "complaint", "").astype(object)])
    web_order = np.concatenate([np.ones(len(w_ms), bool), np.zeros(len(rows_person) - len(w_ms), bool)])

    amount_txt = np.where(amount_c >= 0, _money(amount_c), "").astype(object)
    text = {
        "activity_id": rows_id,
        "customer_id": pop.customer_id[rows_person],
        "activity_type": np.asarray(ACTIVITY_TYPES, dtype=object)[rows_type],
        "channel": np.asarray(CHANNELS, dtype=object)[rows_chan],
        "category": rows_cat,
        "amount": amount_txt,
        "status": status,
        "opened_at": sql_seconds(opened),
        "closed_at": np.where(closed_at >= 0, sql_seconds(np.maximum(closed_at, 0)), "").astype(object),
        "csat_score": np.where(csat_v > 0, csat_v.astype("U2").astype(object), "").astype(object),
        "updated_at": sql_seconds(updated),
    }
    t = CsvTable(source="crm_activities", filename="activities.csv", columns=ACTIVITY_COLUMNS, text=text,
                 folder_day=updated // MS_DAY, sort_key=updated, malformed_ok=~web_order & (rows_type != 2),
                 p_duplicate=P.P_DUPLICATE_ACTIVITY_ROW)
    return Activities(table=t, person=rows_person, activity_id=rows_id, atype=rows_type, version=rows_version,
                      event_ms=event_ms, updated_ms=updated, friction=friction, journey_hint=opened)


def _money(cents: np.ndarray) -> np.ndarray:
    c = np.asarray(cents, dtype=np.int64)
    if not len(c):
        return np.zeros(0, dtype=object)
    return (np.char.add(np.char.add((c // 100).astype("U12"), "."), np.char.zfill((c % 100).astype("U2"), 2))
            ).astype(object)
