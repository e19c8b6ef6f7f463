"""Contact-centre call detail records: escalations, repeat calls, callbacks, support calls."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generator import params as P
from jobs.generator.csvsrc import CsvTable
from jobs.generator.population import Population
from jobs.generator.simulate import QUEUES, Q, Sim, call_shape, open_hours
from jobs.generator.util import (MS_DAY, MS_HOUR, OffsetTable, PHONE_FORMAT_WEIGHTS, permuted_numbers, phone_text,
                                 sql_seconds, stream, zero_pad)

CALL_COLUMNS = ["call_id", "caller_number", "customer_id", "direction", "queue", "started_at", "answered_at",
                "ended_at", "wait_seconds", "talk_seconds", "transfers", "disposition", "reason_code", "survey_nps",
                "survey_ces"]
# the column order of the calls file on the schema-drift day (the header names them)
DRIFT_CALL_COLUMNS = ["started_at", "ended_at", "call_id", "direction", "queue", "caller_number", "customer_id",
                      "answered_at", "disposition", "wait_seconds", "talk_seconds", "transfers", "reason_code",
                      "survey_ces", "survey_nps"]
DISPOSITIONS = ("resolved", "abandoned", "transferred", "callback")
KINDS = ("escalation", "repeat", "callback", "support")
REASON_BY_QUEUE = {"payments": "payment_issue", "sales": "product_info", "general": "order_status",
                   "technical_support": "technical_issue", "billing": "billing_question", "retention": "cancellation"}


@dataclass
class Calls:
    table: CsvTable
    person: np.ndarray
    call_id: np.ndarray
    start_ms: np.ndarray      # UTC
    kind: np.ndarray
    friction: np.ndarray      # object: '' or friction name(s) joined by '+'
    number: np.ndarray        # caller number as 10 digits, -1 when withheld


def build_calls(pop: Population, sim: Sim, created: np.ndarray, start_ms: int, end_ms: int, seed: int,
                cc: OffsetTable) -> Calls:
    rng = stream(seed, "calls")
    e = sim.calls
    k = len(e.get("person", [])) if e else 0
    z = np.zeros(0, np.int64)
    zb = np.zeros(0, bool)

    def g(name, dtype=np.int64):
        return e[name] if k else np.zeros(0, dtype)

    e_end = g("start_ms") + (g("wait") + g("talk")) * 1000
    # repeat calls after unresolved calls, callbacks after 'callback' dispositions
    unresolved = np.isin(g("disposition"), (1, 2, 3)) & (rng.random(k) < P.P_REPEAT_CALL)
    ri = np.flatnonzero(unresolved)
    r_start = open_hours(e_end[ri] + rng.integers(MS_HOUR, 7 * MS_DAY, len(ri)), cc, rng)
    r_shape = call_shape(rng, len(ri), g("queue")[ri], np.zeros(len(ri), bool), np.zeros(len(ri), bool),
                         np.zeros(len(ri), bool), np.zeros(len(ri), bool))
    bi = np.flatnonzero(g("disposition") == 3)
    b_start = open_hours(e_end[bi] + rng.integers(30 * 60_000, MS_DAY, len(bi)), cc, rng)
    nb = len(bi)
    b_shape = dict(wait=rng.integers(5, 31, nb), talk=np.round(rng.lognormal(np.log(240), 0.5, nb)).astype(np.int64),
                   transfers=np.zeros(nb, np.int64), disposition=np.zeros(nb, np.int64),
                   nps=np.full(nb, -1), ces=np.full(nb, -1))
    # background support calls of CRM customers
    cust = np.flatnonzero((created >= 0) & ~pop.is_bot)
    days = (end_ms - start_ms) / MS_DAY
    mult = np.where(pop.segment[cust] == 2, P.ENTERPRISE_SUPPORT_MULT, 1.0)
    n_sup = rng.poisson(P.SUPPORT_CALLS_PER_DAY * days * mult)
    s_person = np.repeat(cust, n_sup)
    s_start = open_hours(start_ms + rng.integers(0, end_ms - start_ms, len(s_person)), cc, rng)
    s_queue = np.asarray([Q[q] for q in P.SUPPORT_QUEUES])[
        rng.choice(len(P.SUPPORT_QUEUES), size=len(s_person), p=P.SUPPORT_QUEUE_WEIGHTS)]
    ns = len(s_person)
    s_shape = call_shape(rng, ns, s_queue, np.zeros(ns, bool), np.zeros(ns, bool), np.zeros(ns, bool),
                         np.zeros(ns, bool))
    # background calls carry no injected friction: never abandoned, short waits, at most one transfer
    s_ab = np.zeros(ns, bool)

    def cat(*xs):
        return np.concatenate([np.asarray(x) for x in xs])

    person = cat(g("person"), g("person")[ri], g("person")[bi], s_person)
    start = cat(g("start_ms"), r_start, b_start, s_start)
    queue = cat(g("queue"), g("queue")[ri], g("queue")[bi], s_queue)
    kind = cat(np.zeros(k, np.int64), np.ones(len(ri), np.int64), np.full(nb, 2), np.full(ns, 3))
    shape = {f: cat(g(f) if k else z, r_shape[f], b_shape[f], s_shape[f])
             for f in ("wait", "talk", "transfers", "disposition", "nps", "ces")}
    ab = cat(g("abandoned", bool) if k else zb, np.zeros(len(ri) + nb, bool), s_ab)
    lw = cat(g("long_wait", bool) if k else zb, np.zeros(len(ri) + nb + ns, bool))
    mt = cat(g("multi_transfer", bool) if k else zb, np.zeros(len(ri) + nb + ns, bool))
    esc_ab = cat(g("abandoned", bool) if k else zb, np.zeros(len(ri) + nb + ns, bool))
    fr = np.full(len(person), "", dtype=object)
    for mask, name in ((lw, "long_queue_wait"), (esc_ab, "abandoned_call"), (mt, "multi_transfer")):
        fr = np.where(mask, np.where(fr == "", name, fr + "+" + name), fr).astype(object)

    start = start // 1000 * 1000
    answered = start + shape["wait"] * 1000
    ended = answered + shape["talk"] * 1000
    # keep calls whose local start and end fall inside the period
    loc_start = cc.local_ms(np.zeros(len(start), np.int64), start)
    loc_ans = cc.local_ms(np.zeros(len(start), np.int64), answered)
    loc_end = cc.local_ms(np.zeros(len(start), np.int64), ended)
    d0, d1 = start_ms // MS_DAY, end_ms // MS_DAY
    keep = (loc_start // MS_DAY >= d0) & (loc_end // MS_DAY < d1) & (start >= np.where(kind == 3, created[person], 0))
    idx = np.flatnonzero(keep)
    # order by start time for stable ids
    idx = idx[np.lexsort((person[idx], start[idx]))]
    n = len(idx)
    person, start, queue, kind, ab, fr = person[idx], start[idx], queue[idx], kind[idx], ab[idx], fr[idx]
    shape = {f: v[idx] for f, v in shape.items()}
    loc_start, loc_ans, loc_end = loc_start[idx], loc_ans[idx], loc_end[idx]
    outbound = kind == 2

    # caller number
    u = rng.random(n)
    switch = (pop.company[person] >= 0) & (pop.crm_phone[person] != pop.phone[person])
    number = np.where(switch, pop.crm_phone[person], np.where(u < P.P_SECOND_PHONE_CALLS, pop.phone2[person],
                                                               pop.phone[person]))
    number = np.where(outbound, np.where(pop.no_phone[person], pop.phone[person], pop.crm_phone[person]), number)
    fmt = rng.choice(len(PHONE_FORMAT_WEIGHTS), size=n, p=PHONE_FORMAT_WEIGHTS)
    caller = phone_text(number, fmt)
    withheld = ~outbound & (rng.random(n) < P.P_WITHHELD_NUMBER)
    caller = np.where(withheld, "", caller).astype(object)
    is_customer = (created[person] >= 0) & (created[person] <= start)
    ivr = is_customer & (outbound | (rng.random(n) < P.P_IVR_IDENTIFIED))
    call_id = np.char.add("CALL", zero_pad(permuted_numbers(n, 10**9, stream(seed, 'call-ids')), 9)).astype(object)
    qname = np.asarray(QUEUES, dtype=object)[queue]
    reason = np.asarray([REASON_BY_QUEUE[q] for q in QUEUES], dtype=object)[queue]
    reason = np.where((kind == 0) & (fr != "") & (rng.random(n) < 0.3), "complaint", reason).astype(object)

    def int_text(v):
        return np.where(v >= 0, v.astype("U12").astype(object), "").astype(object)

    text = {
        "call_id": call_id,
        "caller_number": caller,
        "customer_id": np.where(ivr, pop.customer_id[person], "").astype(object),
        "direction": np.where(outbound, "outbound", "inbound").astype(object),
        "queue": qname,
        "started_at": sql_seconds(loc_start),
        "answered_at": np.where(shape["disposition"] == 1, "", sql_seconds(loc_ans)).astype(object),
        "ended_at": sql_seconds(loc_end),
        "wait_seconds": int_text(shape["wait"]),
        "talk_seconds": int_text(shape["talk"]),
        "transfers": int_text(shape["transfers"]),
        "disposition": np.asarray(DISPOSITIONS, dtype=object)[shape["disposition"]],
        "reason_code": reason,
        "survey_nps": int_text(shape["nps"]),
        "survey_ces": int_text(shape["ces"]),
    }
    t = CsvTable(source="calls", filename="calls.csv", columns=CALL_COLUMNS, text=text,
                 folder_day=loc_end // MS_DAY, sort_key=loc_start, malformed_ok=(fr == ""),
                 p_duplicate=P.P_DUPLICATE_CALL_ROW)
    return Calls(table=t, person=person, call_id=call_id, start_ms=start, kind=kind, friction=fr,
                 number=np.where(withheld, -1, number))
