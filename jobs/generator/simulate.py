"""Journey simulation at session level.

One iteration per session index (a person's 1st, 2nd, ... session), vectorised over
all persons still active; nothing loops per event. Each iteration decides what every
active person does in that session (which stages, which blocks of pages), which
friction they meet, whether they give up, call the contact centre or complain, and
when their next session starts. Friction is drawn at random among eligible
occurrences, so the effect written to friction.json is causal by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generator import catalog as C
from jobs.generator import params as P
from jobs.generator.population import Population
from jobs.generator.util import MS_DAY, MS_HOUR, OffsetTable, stream

AW, CO, IN, PU, LO = 0, 1, 2, 3, 4
MIN_MS = 60_000
QUEUES = ("payments", "sales", "general", "technical_support", "billing", "retention")
Q = {q: i for i, q in enumerate(QUEUES)}

# signup block kinds
SIGNUP_NONE, SIGNUP_OK, SIGNUP_1ERR, SIGNUP_LOOP_DONE, SIGNUP_LOOP_GAVE_UP = 0, 1, 2, 3, 4


def funnel_tables():
    """advance[seg, dev, stage] and abandon[seg, dev, stage] per-session probabilities."""
    stages = ("awareness", "consideration", "purchase_intent")
    adv = np.zeros((3, 4, 3))
    ab = np.zeros((3, 4, 3))
    for si, seg in enumerate(P.SEGMENTS):
        for di, dev in enumerate(P.DEVICE_TYPES):
            for k, st in enumerate(stages):
                a = P.BASE_ADVANCE[st] * P.SEGMENT_ADVANCE_MULT[seg] * P.DEVICE_ADVANCE_MULT[dev]
                x = P.BASE_ABANDON[st] * P.SEGMENT_ABANDON_MULT[seg] * P.DEVICE_ABANDON_MULT[dev]
                a = min(a, 0.8)
                x = min(x, 0.95 - a)
                adv[si, di, k] = round(a, 4)
                ab[si, di, k] = round(x, 4)
    return adv, ab


@dataclass
class Sim:
    sessions: dict        # column -> array, one row per session
    calls: dict           # escalation calls
    complaints: dict
    cases: dict
    first_purchase_ms: np.ndarray   # per person, -1 if none
    signup_cid_ms: np.ndarray       # per person CRM creation without purchase, -1 if none


def _cat(parts: list[dict]) -> dict:
    if not parts:
        return {}
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _rate(table, keys, default_key="other"):
    if isinstance(table, dict):
        return np.asarray([table.get(k, table.get(default_key, 0.0)) for k in keys])
    return np.full(len(keys), float(table))


def open_hours(call_ms: np.ndarray, cc: OffsetTable, rng) -> np.ndarray:
    """Move call starts into the contact centre's opening hours (local time), keeping order."""
    t = call_ms.copy()
    for _ in range(2):       # a second pass settles starts moved across a DST change
        local = cc.local_ms(np.zeros(len(t), dtype=np.int64), t)
        tod = local % MS_DAY
        early = tod < P.CALL_CENTRE_OPEN_HOUR * MS_HOUR
        late = tod >= (P.CALL_CENTRE_CLOSE_HOUR * MS_HOUR - 30 * MIN_MS)
        jitter = rng.integers(0, 3 * MS_HOUR, len(t))
        t = np.where(early, t + P.CALL_CENTRE_OPEN_HOUR * MS_HOUR - tod + jitter, t)
        t = np.where(late, t + MS_DAY - tod + P.CALL_CENTRE_OPEN_HOUR * MS_HOUR + jitter, t)
    return t


def call_shape(rng, n, queue, abandoned, long_wait, multi, friction_bad):
    """wait/talk seconds, transfers, disposition and survey answers for n calls."""
    wait = np.round(rng.lognormal(np.log(70), 0.7, n)).clip(5, 300)
    wait = np.where(long_wait, rng.integers(660, 1801, n), wait)
    wait = np.where(abandoned & ~long_wait, rng.integers(20, 301, n), wait).astype(np.int64)
    talk = np.round(rng.lognormal(np.log(300), 0.6, n)).clip(30, 3600)
    transfers = np.where(multi, rng.integers(2, 5, n), (rng.random(n) < P.P_SINGLE_TRANSFER).astype(int))
    talk = np.where(multi, talk + 120 * transfers, talk)
    talk = np.where(abandoned, 0, talk).astype(np.int64)
    transfers = np.where(abandoned, 0, transfers).astype(np.int64)
    r = rng.random(n)
    disposition = np.where(abandoned, 1, np.where((transfers > 0) & (r < 0.5), 2,
                                                    np.where(rng.random(n) < P.P_CALLBACK, 3, 0)))
    answered = ~abandoned
    nps = np.where(friction_bad, rng.choice(11, n, p=_nps_p(True)), rng.choice(11, n, p=_nps_p(False)))
    ces = np.where(friction_bad, rng.choice(7, n, p=_ces_p(True)), rng.choice(7, n, p=_ces_p(False))) + 1
    has_nps = answered & (rng.random(n) < P.P_SURVEY_NPS)
    has_ces = answered & (rng.random(n) < P.P_SURVEY_CES)
    return dict(wait=wait, talk=talk, transfers=transfers, disposition=disposition,
                nps=np.where(has_nps, nps, -1), ces=np.where(has_ces, ces, -1))


def _nps_p(bad):
    w = np.asarray([6, 5, 6, 7, 7, 8, 9, 8, 6, 4, 3] if bad else [1, 1, 1, 2, 2, 4, 6, 12, 20, 25, 26], float)
    return w / w.sum()


def _ces_p(bad):
    w = np.asarray([20, 22, 20, 14, 10, 8, 6] if bad else [3, 4, 6, 12, 20, 28, 27], float)
    return w / w.sum()


def simulate(pop: Population, start_ms: int, end_ms: int, seed: int, tz: OffsetTable, cc: OffsetTable) -> Sim:
    rng = stream(seed, "sessions")
    n = pop.n_humans
    adv_t, ab_t = funnel_tables()
    seg = pop.segment[:n]
    dpref = pop.device_pref[:n]
    region = pop.region[:n]
    has_user = pop.has_user[:n]
    adv = adv_t[seg, dpref]          # (n, 3)
    ab = ab_t[seg, dpref]

    F = P.FRICTIONS
    pf_rate_by_dev = _rate(F["payment_failed"]["rate"], P.DEVICE_TYPES)
    lw_rate_by_q = _rate(F["long_queue_wait"]["rate"], QUEUES)
    mt_rate_by_q = _rate(F["multi_transfer"]["rate"], QUEUES)

    # initial state
    stage = rng.choice(3, size=n, p=P.INITIAL_STAGE_WEIGHTS_PROSPECT).astype(np.int64)
    loyal = pop.cid_initial[:n] & (rng.random(n) < P.P_EXISTING_CUSTOMER_IN_LOYALTY)
    stage[loyal] = LO
    stuck = np.zeros(n, bool)
    signed_up = pop.existing_account[:n] | ~has_user
    n_purch = np.zeros(n, np.int64)
    prev_stage = np.full(n, -1, np.int64)
    j_idx = np.zeros(n, np.int64)
    first_purchase = np.full(n, -1, np.int64)
    signup_cid = np.where(pop.cid_signup[:n], start_ms + rng.integers(0, end_ms - start_ms, n), -1)
    signup_cid = (signup_cid // 1000) * 1000
    idle_mean_ms = MS_DAY / np.maximum(pop.rate[:n], 1e-3)
    t_next = start_ms + rng.exponential(1.0, n) * idle_mean_ms
    t_next = _morning(t_next.astype(np.int64), region, tz, rng)

    sess_parts, call_parts, cmp_parts, case_parts = [], [], [], []
    n_sess = 0
    active = np.flatnonzero(t_next < end_ms)
    first = True
    while active.size or first:         # the first pass also runs empty, so every column exists
        first = False
        p = active
        m = len(p)
        t0 = t_next[p]
        s = stage[p]
        st = stuck[p]
        live = ~st
        a = adv[p]
        x = ab[p]

        # device of the session
        devs = pop.person_devices[p]
        own = (devs[:, :3] >= 0).sum(axis=1)
        other = (rng.random(m) >= P.P_PREFERRED_DEVICE) & (own > 1)
        col = np.where(other, 1 + rng.integers(0, 1 << 20, m) % np.maximum(own - 1, 1), 0)
        shared_dev = devs[:, 3]
        use_shared = (shared_dev >= 0) & (rng.random(m) < P.P_USE_SHARED_DEVICE)
        dev = np.where(use_shared, shared_dev, devs[np.arange(m), col])
        dtype_ = pop.dev_type[dev]

        r = rng.random((m, 24))
        # awareness
        has0 = live & (s == AW)
        adv0 = has0 & (r[:, 0] < a[:, 0])
        ab0 = has0 & ~adv0 & (r[:, 0] < a[:, 0] + x[:, 0])
        cont0 = adv0 & (r[:, 1] < P.P_CONTINUE_IN_SESSION)
        # consideration
        has1 = live & ((s == CO) | cont0)
        signup = has1 & ~signed_up[p] & has_user[p] & (r[:, 2] < P.P_SIGNUP_IN_CONSIDERATION)
        loop = signup & (r[:, 3] < F["signup_form_error_loop"]["rate"])
        gu_loop = loop & (r[:, 4] < F["signup_form_error_loop"]["give_up"])
        one_err = signup & ~loop & (r[:, 5] < P.P_SINGLE_FORM_ERROR)
        errp = has1 & ~gu_loop & (r[:, 6] < F["search_error_page"]["rate"])
        gu_err = errp & (r[:, 7] < F["search_error_page"]["give_up"])
        gu1 = gu_loop | gu_err
        adv1 = has1 & ~gu1 & (r[:, 8] < a[:, 1])
        ab1 = has1 & ~gu1 & ~adv1 & (r[:, 8] < a[:, 1] + x[:, 1])
        cont1 = adv1 & (r[:, 9] < P.P_CONTINUE_IN_SESSION)
        signup_kind = np.select([loop & gu_loop, loop, one_err, signup], [4, 3, 2, 1], 0)
        signed_up[p[signup & ~gu_loop]] = True
        # purchase intent
        has2 = live & ((s == IN) | cont1)
        intend = has2 & (r[:, 10] < a[:, 2])
        rage = has2 & (r[:, 11] < F["rage_click_coupon"]["rate"])
        gu_rage = rage & (r[:, 12] < F["rage_click_coupon"]["give_up"])
        coupon1 = has2 & ~rage & (r[:, 13] < P.P_SINGLE_COUPON_CLICK)
        checkout = has2 & ~gu_rage & (intend | (r[:, 14] < P.P_CHECKOUT_NO_INTENT))
        payment = checkout & (intend | (r[:, 15] < P.P_PAYMENT_NO_INTENT))
        payfail = payment & (r[:, 16] < pf_rate_by_dev[dtype_])
        gu_pf = payfail & (r[:, 17] < F["payment_failed"]["give_up"])
        purchase = intend & ~gu_rage & ~gu_pf
        retry = payfail & purchase
        gu2 = gu_rage | gu_pf
        ab2 = has2 & ~purchase & ~gu2 & (r[:, 18] < x[:, 2] / np.maximum(1 - a[:, 2], 1e-9))
        # use / loyalty
        has4 = live & (s == LO)
        repurchase = has4 & (r[:, 19] < P.P_REPURCHASE_CYCLE)

        # how many events per block
        n0 = np.where(has0, 1 + rng.poisson(2.5, m), 0)
        n1 = np.where(has1, 2 + rng.poisson(4.0, m), 0)
        n2 = np.where(has2, rng.poisson(1.0, m), 0)
        n4 = np.where(has4, 1 + rng.poisson(3.0, m), 0)
        nst = np.where(st, 1 + rng.poisson(2.5, m), 0)
        rage_k = np.where(rage, rng.integers(3, 7, m), 0)
        first_stage = np.where(st, 5, s)                   # 5 = stuck, for the login table
        p_login = np.asarray([P.P_LOGIN["awareness"], P.P_LOGIN["consideration"], P.P_LOGIN["purchase_intent"],
                              0.0, P.P_LOGIN["use_loyalty"], P.P_LOGIN["stuck"]])[first_stage]
        p_login = np.where(pop.dev_shared[dev], P.P_LOGIN_SHARED_DEVICE, p_login)   # both members log in
        # a signup logs the person in by itself
        login = has_user[p] & (signup_kind == 0) & (r[:, 20] < p_login)
        signup_events = np.asarray([0, 3, 5, 11, 9])[signup_kind]
        n_ev = (1 + n0 + n1 + signup_events + 2 * errp + n2 + 3 * has2 + 1 * has2 + coupon1 + rage_k
                + 3 * checkout + 2 * payment + payfail + retry + purchase + n4 + nst + 2 * login)
        n_special = np.maximum(rage_k - 1, 0)
        n_normal = n_ev - 1 - n_special
        d_extra = np.where(n_normal > 0, rng.gamma(np.maximum(n_normal, 1), P.NORMAL_GAP_MEAN_S * 1000.0), 0.0)
        d_extra = np.round(d_extra).astype(np.int64)
        t_end = t0 + n_normal * 1000 + d_extra + n_special * 900

        product = rng.choice(C.N_PRODUCTS, size=m, p=C.PRODUCT_POPULARITY)
        qty = 1 + (rng.random(m) < 0.2) + (rng.random(m) < 0.05)

        # state after the session
        last = np.where(has2, IN, np.where(has1, CO, np.where(has0, AW, s)))
        ns = last.copy()
        ns = np.where(has0 & ~has1 & adv0, CO, ns)
        ns = np.where(has1 & ~has2 & adv1, IN, ns)
        ns = np.where(purchase, LO, ns)
        ns = np.where(repurchase, CO, ns)
        ns = np.where(st, s, ns)
        new_stuck = st | ab0 | ab1 | gu1 | ab2 | gu2

        # escalation calls after an intent session without purchase
        esc = has2 & ~purchase & (r[:, 21] < np.where(payfail, P.P_ESCALATION_AFTER_PAYMENT_FAILURE,
                                                      P.P_ESCALATION_OTHER))
        ei = np.flatnonzero(esc)
        k = len(ei)
        is_customer = pop.cid_initial[p] | (n_purch[p] > 0) | ((signup_cid[p] >= 0) & (signup_cid[p] < t0))
        call_end = np.full(m, -1, np.int64)
        gu_call = np.zeros(m, bool)
        call_bad = np.zeros(m, bool)
        if k:
            queue = np.where(payfail[ei], Q["payments"],
                             np.asarray([Q[q] for q in P.ESCALATION_QUEUES])[
                                 rng.choice(3, size=k, p=P.ESCALATION_QUEUE_WEIGHTS)])
            rc = rng.random((k, 6))
            c_ab = rc[:, 0] < F["abandoned_call"]["rate"]
            c_lw = rc[:, 1] < lw_rate_by_q[queue]
            c_mt = ~c_ab & (rc[:, 2] < mt_rate_by_q[queue])
            gu_c = ((c_ab & (rc[:, 3] < F["abandoned_call"]["give_up"]))
                    | (c_lw & (rc[:, 4] < F["long_queue_wait"]["give_up"]))
                    | (c_mt & (rc[:, 5] < F["multi_transfer"]["give_up"])))
            c_start = open_hours(t_end[ei] + rng.integers(10 * MIN_MS, 8 * MS_HOUR, k), cc, rng)
            shape = call_shape(rng, k, queue, c_ab, c_lw, c_mt, c_ab | c_lw | c_mt)
            c_end = c_start + (shape["wait"] + shape["talk"]) * 1000
            # a smooth call (no friction, resolved) wins back some who gave up on the web
            rescued = (~(c_ab | c_lw | c_mt) & (shape["disposition"] == 0) & new_stuck[ei]
                       & (rng.random(k) < P.P_CALL_RESCUE))
            new_stuck[ei] = new_stuck[ei] & ~rescued
            call_end[ei] = c_end
            gu_call[ei] = gu_c
            call_bad[ei] = c_ab | c_lw | c_mt
            call_parts.append(dict(
                person=p[ei], session=n_sess + ei, start_ms=c_start, queue=queue, abandoned=c_ab,
                long_wait=c_lw, multi_transfer=c_mt, gave_up=gu_c & ~new_stuck[ei], rescued=rescued,
                kind=np.zeros(k, np.int64),
                **shape))
        # complaints after friction, by CRM customers
        cmp_elig = is_customer & ~purchase & (payfail | call_bad)
        complaint = cmp_elig & (r[:, 22] < F["complaint"]["rate"])
        gu_cmp = complaint & (r[:, 23] < F["complaint"]["give_up"])
        base_t = np.where(call_end >= 0, call_end, t_end)
        cmp_t = base_t + rng.integers(5 * MIN_MS, 12 * MS_HOUR, m)
        ci = np.flatnonzero(complaint)
        if len(ci):
            category = np.where(call_bad[ci], np.where(payfail[ci], 0, 1), 0)
            cmp_parts.append(dict(person=p[ci], session=n_sess + ci, opened_ms=cmp_t[ci], category=category,
                                  via_call=call_end[ci] >= 0, gave_up=gu_cmp[ci] & ~(new_stuck | gu_call)[ci]))
        # service cases: after answered escalation calls and some payment failures
        case_call = (call_end >= 0) & ~call_bad & (rng.random(m) < P.P_CASE_AFTER_CALL)
        case_pf = payfail & (call_end < 0) & (rng.random(m) < P.P_CASE_AFTER_PAYMENT_FAILURE)
        qi = np.flatnonzero((case_call | case_pf) & is_customer)
        if len(qi):
            after_web = t_end[qi] + rng.integers(10 * MIN_MS, 12 * MS_HOUR, len(qi))
            case_parts.append(dict(person=p[qi], opened_ms=np.where(case_call[qi], call_end[qi] - 60_000, after_web),
                                   channel=np.where(case_call[qi], 3, 4), category=np.where(payfail[qi], 0, 1)))
        new_stuck = new_stuck | gu_call | gu_cmp

        # late delivery (offline devices); very late only for sessions whose loss changes no stage outcome
        late_r = rng.random(m)
        very_late_ok = (st | (has4 & ~repurchase & (prev_stage[p] == LO))) & ~complaint & ~esc
        late_class = np.where(late_r < P.P_LATE_SESSION, 1,
                              np.where((late_r < P.P_LATE_SESSION + P.P_VERY_LATE_SESSION) & very_late_ok, 2, 0))
        late_delay = np.where(late_class == 1, rng.integers(MS_DAY, 3 * MS_DAY - 10_000, m),
                              np.where(late_class == 2, rng.integers(5 * MS_DAY, 10 * MS_DAY, m), 0))

        sess_parts.append(dict(
            person=p, j=j_idx[p].copy(), dev=dev, dev_type=dtype_, start_ms=t0, end_ms=t_end, stage=s, stuck=st,
            journey=n_purch[p].copy(), has0=has0, has1=has1, has2=has2, has4=has4, n0=n0, n1=n1, n2=n2, n4=n4,
            nst=nst, signup_kind=signup_kind, errp=errp, rage_k=rage_k, coupon1=coupon1, checkout=checkout,
            payment=payment, payfail=payfail, retry=retry, purchase=purchase, login=login, product=product,
            qty=qty, n_ev=n_ev, d_extra=d_extra, late_class=late_class, late_delay=late_delay,
            gave_up=(new_stuck & ~st), escalated=esc, complaint=complaint, complaint_eligible=cmp_elig,
            very_late_ok=very_late_ok,
        ))
        # purchases
        bought = p[purchase]
        t_buy = t_end[purchase]
        first_purchase[bought] = np.where(first_purchase[bought] < 0, t_buy, first_purchase[bought])
        n_purch[p] += purchase
        prev_stage[p] = np.where(st, -1, last)
        stage[p] = ns
        stuck[p] = new_stuck
        j_idx[p] += 1
        n_sess += m

        # next session
        mean = idle_mean_ms[p] * np.where(new_stuck, 1.0 / P.STUCK_RATE_MULT, 1.0)
        nxt = t_end + P.MIN_IDLE_MINUTES * MIN_MS + 1000 + (rng.exponential(1.0, m) * mean).astype(np.int64)
        nxt = np.maximum(nxt, np.where(call_end >= 0, call_end + 10 * MIN_MS, 0))
        nxt = np.maximum(nxt, np.where(complaint, cmp_t + 10 * MIN_MS, 0))
        t_next[p] = _morning(nxt, region[p], tz, rng)
        active = p[t_next[p] < end_ms]

    sessions = _cat(sess_parts)
    # at least one session beyond the lateness window, so small data sets show that case too
    ok = np.flatnonzero(sessions["very_late_ok"])
    if len(ok) and not (sessions["late_class"] == 2).any():
        pick = ok[rng.integers(0, len(ok))]
        sessions["late_class"][pick] = 2
        sessions["late_delay"][pick] = rng.integers(5 * MS_DAY, 10 * MS_DAY)
    return Sim(sessions=sessions, calls=_cat(call_parts), complaints=_cat(cmp_parts),
               cases=_cat(case_parts), first_purchase_ms=first_purchase, signup_cid_ms=signup_cid)


def _morning(t: np.ndarray, zone: np.ndarray, tz: OffsetTable, rng) -> np.ndarray:
    """Sessions planned for the small hours (local) mostly move to the morning."""
    t = np.asarray(t, dtype=np.int64)
    local = tz.local_ms(zone, t)
    tod = local % MS_DAY
    move = (tod < 7 * MS_HOUR) & (rng.random(len(t)) < P.NIGHT_SHIFT_PROB)
    return np.where(move, t - tod + 7 * MS_HOUR + rng.integers(0, 3 * MS_HOUR, len(t)), t)
