"""Sessions -> clickstream events -> NDJSON lines with duplicates, lateness, skew and defects.

Everything is column-wise numpy: sessions expand to events with np.repeat over a
(session x block) count matrix; every JSON field is either looked up from a small table
of ready-made fragments (categorical fields) or formatted for a whole chunk at once
(ids, timestamps); a chunk of lines is one ''.join over an interleaved object array.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jobs.generator import catalog as C
from jobs.generator import params as P
from jobs.generator.malformed import CLICKSTREAM_KINDS, corrupt_json_line, pick_kinds
from jobs.generator.population import USER_AGENTS, Population
from jobs.generator.simulate import AW, CO, IN, LO, PU, Sim
from jobs.generator.util import (MS_DAY, OffsetTable, day_text, gzip_bytes, put_const, put_digits, put_iso_ms,
                                 put_offset, rows_as_bytes, stream)

ETYPES = ("page_view", "click", "search", "login", "signup", "add_to_cart", "checkout_start", "payment_failed",
          "form_error", "purchase", "error_page")
E = {e: i for i, e in enumerate(ETYPES)}

# blocks, in the order they appear inside a session
(B_ENTRY, B_BR0, B_BR1, B_SU_OK, B_SU_1ERR, B_SU_LOOP, B_SU_DONE, B_ERR, B_BR2, B_ATC, B_CART, B_COUP, B_RAGE,
 B_CHK, B_PAY, B_PF, B_RETRY, B_PUR, B_BR4, B_BRST) = range(20)
N_BLOCKS = 20
BROWSE_BLOCKS = (B_BR0, B_BR1, B_BR2, B_BR4, B_BRST)
B_LOGIN = 20          # inserted afterwards
B_BOT = 21

# dynamic path specs
D_ENTRY, D_BROWSE, D_SPROD, D_RANDPROD, D_RANDREV, D_RANDCAT, D_RANDBLOG, D_SEARCH = -1, -2, -3, -4, -5, -6, -7, -8

# property kinds
(PK_NONE, PK_PV, PK_SEARCH, PK_LOGIN, PK_SIGNUP, PK_ATC, PK_CHECKOUT, PK_PAYFAIL, PK_FORMERR, PK_PURCHASE,
 PK_ERR) = range(11)

_FIXED_TEMPLATES = {
    B_SU_OK: [("page_view", "/signup", None, PK_PV), ("click", "/signup", "#signup-submit", PK_NONE),
              ("signup", "/signup", None, PK_SIGNUP)],
    B_SU_1ERR: [("page_view", "/signup", None, PK_PV), ("click", "/signup", "#signup-submit", PK_NONE),
                ("form_error", "/signup", None, PK_FORMERR), ("click", "/signup", "#signup-submit", PK_NONE),
                ("signup", "/signup", None, PK_SIGNUP)],
    B_SU_LOOP: [("page_view", "/signup", None, PK_PV), ("click", "/signup", "#signup-submit", PK_NONE),
                ("form_error", "/signup", None, PK_FORMERR)] * 3,
    B_SU_DONE: [("click", "/signup", "#signup-submit", PK_NONE), ("signup", "/signup", None, PK_SIGNUP)],
    B_ERR: [("search", D_SEARCH, None, PK_SEARCH), ("error_page", "/search", None, PK_ERR)],
    B_ATC: [("page_view", D_SPROD, None, PK_PV), ("click", D_SPROD, "#add-to-cart", PK_NONE),
            ("add_to_cart", D_SPROD, None, PK_ATC)],
    B_CART: [("page_view", "/cart", None, PK_PV)],
    B_COUP: [("click", "/cart", "#apply-coupon", PK_NONE)],
    B_RAGE: [("click", "/cart", "#apply-coupon", PK_NONE)] * 6,
    B_CHK: [("click", "/cart", "#checkout", PK_NONE), ("page_view", "/checkout", None, PK_PV),
            ("checkout_start", "/checkout", None, PK_CHECKOUT)],
    B_PAY: [("page_view", "/checkout/payment", None, PK_PV), ("click", "/checkout/payment", "#pay-now", PK_NONE)],
    B_PF: [("payment_failed", "/checkout/payment", None, PK_PAYFAIL)],
    B_RETRY: [("click", "/checkout/payment", "#pay-now", PK_NONE)],
    B_PUR: [("purchase", "/checkout/confirmation", None, PK_PURCHASE)],   # the converting event ends the session
}
LOGIN_TEMPLATE = [("page_view", "/login", None, PK_PV), ("login", "/login", None, PK_LOGIN)]

# browse items: (event_type, path spec, element, property kind, weight)
BROWSE_ITEMS = {
    AW: [("page_view", "/", None, PK_PV, 3.0), ("page_view", D_RANDBLOG, None, PK_PV, 2.0),
         ("click", "/", "#hero-cta", PK_NONE, 1.0), ("click", "/", "#nav-products", PK_NONE, 1.0),
         ("page_view", "/about", None, PK_PV, 1.0), ("click", "/", "#cookie-accept", PK_NONE, 0.5),
         ("click", "/", "#newsletter-signup", PK_NONE, 0.5)],
    CO: [("page_view", D_RANDPROD, None, PK_PV, 5.0), ("page_view", D_RANDCAT, None, PK_PV, 2.0),
         ("search", D_SEARCH, None, PK_SEARCH, 2.0), ("click", "/search", "#filter-price", PK_NONE, 1.0),
         ("click", D_RANDPROD, "#product-gallery", PK_NONE, 1.5), ("click", D_RANDCAT, "#sort-select", PK_NONE, 0.7),
         ("page_view", "/compare", None, PK_PV, 0.8), ("page_view", D_RANDREV, None, PK_PV, 1.0),
         ("page_view", "/help/shipping", None, PK_PV, 0.5), ("page_view", "/pricing", None, PK_PV, 0.7)],
    IN: [("page_view", D_RANDPROD, None, PK_PV, 3.0), ("page_view", "/help/payment", None, PK_PV, 1.0)],
    LO: [("page_view", "/account", None, PK_PV, 3.0), ("page_view", "/account/orders", None, PK_PV, 2.0),
         ("click", "/account/orders", "#track-order", PK_NONE, 1.5), ("page_view", "/help/returns", None, PK_PV, 1.0),
         ("page_view", "/help/warranty", None, PK_PV, 0.7), ("page_view", "/help/contact", None, PK_PV, 0.5),
         ("click", "/account", "#chat-open", PK_NONE, 0.4)],
}

FRICTION_NAMES = ("", "payment_failed", "rage_click_coupon", "signup_form_error_loop", "search_error_page")

PAYFAIL_CODES = ("card_declined", "3ds_timeout", "insufficient_funds", "card_declined")
FORM_ERRORS = (("password", "too_short"), ("email", "invalid_format"), ("postcode", "required"))
LOAD_MS = tuple(range(180, 2400, 110))


@dataclass
class Events:
    """One row per true clickstream event (humans first, then bots)."""
    cols: dict
    props: list           # property JSON texts; events hold an index or -1
    n: int


def _templ_codes(site: C.Site, tpl):
    et, path, elem, pk = tpl
    if isinstance(path, str):
        path = site.p(path)
    return E[et], path, (C.el(elem) if elem else -1), pk


def expand(sim: Sim, pop: Population, site: C.Site, seed: int, start_ms: int, end_ms: int) -> Events:
    rng = stream(seed, "events")
    S = sim.sessions
    ns = len(S["person"])
    # ---------------------------------------------------------- block counts per session
    cnt = np.zeros((ns, N_BLOCKS), dtype=np.int64)
    cnt[:, B_ENTRY] = 1
    cnt[:, B_BR0] = S["n0"]
    cnt[:, B_BR1] = S["n1"]
    sk = S["signup_kind"]
    cnt[:, B_SU_OK] = np.where(sk == 1, 3, 0)
    cnt[:, B_SU_1ERR] = np.where(sk == 2, 5, 0)
    cnt[:, B_SU_LOOP] = np.where(sk >= 3, 9, 0)
    cnt[:, B_SU_DONE] = np.where(sk == 3, 2, 0)
    cnt[:, B_ERR] = 2 * S["errp"]
    cnt[:, B_BR2] = S["n2"]
    cnt[:, B_ATC] = 3 * S["has2"]
    cnt[:, B_CART] = 1 * S["has2"]
    cnt[:, B_COUP] = 1 * S["coupon1"]
    cnt[:, B_RAGE] = S["rage_k"]
    cnt[:, B_CHK] = 3 * S["checkout"]
    cnt[:, B_PAY] = 2 * S["payment"]
    cnt[:, B_PF] = 1 * S["payfail"]
    cnt[:, B_RETRY] = 1 * S["retry"]
    cnt[:, B_PUR] = 1 * S["purchase"]
    cnt[:, B_BR4] = S["n4"]
    cnt[:, B_BRST] = S["nst"]

    flat = cnt.ravel()
    n_base = int(flat.sum())
    sess = np.repeat(np.arange(ns), cnt.sum(axis=1))
    block = np.repeat(np.tile(np.arange(N_BLOCKS), ns), flat)
    blk_start = np.repeat(np.cumsum(flat) - flat, flat)
    pos_in_block = np.arange(n_base) - blk_start
    sess_start = np.repeat(np.cumsum(cnt.sum(axis=1)) - cnt.sum(axis=1), cnt.sum(axis=1))
    pos = np.arange(n_base) - sess_start

    etype = np.full(n_base, E["page_view"], dtype=np.int64)
    path = np.full(n_base, -1, dtype=np.int64)
    elem = np.full(n_base, -1, dtype=np.int64)
    pk = np.full(n_base, PK_NONE, dtype=np.int64)

    for b, tpl in _FIXED_TEMPLATES.items():
        codes = np.asarray([_templ_codes(site, t) for t in tpl], dtype=np.int64)
        mask = block == b
        c = codes[pos_in_block[mask]]
        etype[mask], path[mask], elem[mask], pk[mask] = c[:, 0], c[:, 1], c[:, 2], c[:, 3]

    # stage of the session's first content and of stuck browsing
    st = S["stuck"]
    sess_stage = S["stage"]
    stuck_stage = np.where(sess_stage == AW, AW, CO)
    first_stage = np.where(st, stuck_stage, sess_stage)

    # browse items
    is_browse = np.isin(block, BROWSE_BLOCKS)
    browse_stage = np.full(N_BLOCKS, -1)
    browse_stage[[B_BR0, B_BR1, B_BR2, B_BR4]] = [AW, CO, IN, LO]
    br_stage = np.where(block == B_BRST, stuck_stage[sess], browse_stage[block])
    for stg, items in BROWSE_ITEMS.items():
        mask = is_browse & (br_stage == stg)
        k = int(mask.sum())
        if not k:
            continue
        w = np.asarray([it[4] for it in items])
        pick = rng.choice(len(items), size=k, p=w / w.sum())
        codes = np.asarray([_templ_codes(site, it[:4]) for it in items], dtype=np.int64)
        c = codes[pick]
        etype[mask], path[mask], elem[mask], pk[mask] = c[:, 0], c[:, 1], c[:, 2], c[:, 3]

    # entry pages
    entry = block == B_ENTRY
    es = sess[entry]
    fs = first_stage[es]
    u = rng.random(len(es))
    camp = np.full(n_base, -1, dtype=np.int64)
    campaign_pick = rng.choice(len(C.CAMPAIGNS), size=len(es), p=C.CAMPAIGN_WEIGHTS)
    stuck_e = st[es]
    e_path = np.select(
        [(fs == AW) & ~stuck_e & (u < 0.6), (fs == AW) & ~stuck_e & (u < 0.85), (fs == AW),
         (fs == CO) & ~stuck_e & (u < 0.5), (fs == CO) & ~stuck_e & (u < 0.7), (fs == CO) & ~stuck_e & (u < 0.85),
         (fs == CO) & (u < 0.7), (fs == CO),
         (fs == IN),
         (fs == LO) & (u < 0.5), (fs == LO) & (u < 0.8), (fs == LO)],
        [D_ENTRY, site.p("/"), D_RANDBLOG,
         D_RANDPROD, D_SEARCH, D_ENTRY, D_RANDPROD, D_RANDCAT,
         D_RANDPROD,
         site.p("/account"), site.p("/account/orders"), site.p("/help/returns")],
        site.p("/"))
    # stuck awareness visitors come back to the home page or the blog
    e_path = np.where(stuck_e & (fs == AW), np.where(u < 0.6, site.p("/"), D_RANDBLOG), e_path)
    landing = e_path == D_ENTRY
    ent_idx = np.flatnonzero(entry)
    camp[ent_idx[landing]] = campaign_pick[landing]
    e_path = np.where(landing, site.lp0 + campaign_pick, e_path)
    path[entry] = e_path
    etype[entry] = E["page_view"]
    pk[entry] = np.where(e_path == D_SEARCH, PK_SEARCH, PK_PV)
    etype[ent_idx[e_path == D_SEARCH]] = E["search"]

    # resolve dynamic paths
    product = S["product"][sess]
    url = np.full(n_base, -1, dtype=np.int64)
    query = np.full(n_base, -1, dtype=np.int64)
    m = path == D_SPROD
    path[m] = site.prod0 + product[m]
    m = path == D_RANDPROD
    path[m] = site.prod0 + rng.choice(C.N_PRODUCTS, size=int(m.sum()), p=C.PRODUCT_POPULARITY)
    m = path == D_RANDREV
    path[m] = site.rev0 + rng.choice(C.N_PRODUCTS, size=int(m.sum()), p=C.PRODUCT_POPULARITY)
    m = path == D_RANDCAT
    path[m] = site.cat0 + rng.integers(0, len(C.CATEGORIES), int(m.sum()))
    m = path == D_RANDBLOG
    path[m] = site.blog0 + rng.integers(0, len(C.BLOG_SLUGS), int(m.sum()))
    m = path == D_SEARCH
    query[m] = rng.integers(0, len(C.SEARCH_QUERIES), int(m.sum()))
    path[m] = site.p("/search")
    url = path.copy()
    url[query >= 0] = site.search_url0 + query[query >= 0]
    url[camp >= 0] = site.camp_url0 + camp[camp >= 0]

    # journey of each event (purchases before its session)
    journey = S["journey"][sess]
    friction = np.select([block == B_PF, block == B_RAGE, block == B_SU_LOOP, (block == B_ERR) & (pos_in_block == 1)],
                         [1, 2, 3, 4], 0)
    special_gap = (block == B_RAGE) & (pos_in_block > 0)

    # ------------------------------------------------------------------ login insertion
    login = S["login"]
    n_ev_base = cnt.sum(axis=1)
    before_intent = cnt[:, :B_ATC].sum(axis=1)
    limit = np.where(S["has2"], before_intent, n_ev_base)
    k_login = 1 + np.floor(rng.random(ns) * limit).astype(np.int64)
    k_login = np.minimum(k_login, n_ev_base)
    key = pos + 2 * (login[sess] & (pos >= k_login[sess]))
    ls = np.flatnonzero(login)
    lsess = np.repeat(ls, 2)
    lpos = np.tile([0, 1], len(ls))
    lcodes = np.asarray([_templ_codes(site, t) for t in LOGIN_TEMPLATE], dtype=np.int64)
    n_login_ev = len(lsess)

    def cat2(a, b):
        return np.concatenate([a, b])

    sess = cat2(sess, lsess)
    key = cat2(key, k_login[lsess] + lpos)
    block = cat2(block, np.full(n_login_ev, B_LOGIN))
    etype = cat2(etype, lcodes[lpos, 0])
    path = cat2(path, lcodes[lpos, 1])
    url = cat2(url, lcodes[lpos, 1])
    elem = cat2(elem, lcodes[lpos, 2])
    pk = cat2(pk, lcodes[lpos, 3])
    camp = cat2(camp, np.full(n_login_ev, -1))
    query = cat2(query, np.full(n_login_ev, -1))
    journey = cat2(journey, S["journey"][lsess])
    friction = cat2(friction, np.zeros(n_login_ev, np.int64))
    special_gap = cat2(special_gap, np.zeros(n_login_ev, bool))
    order = np.lexsort((key, sess))
    sess, key, block, etype, path, url, elem, pk, camp, query, journey, friction, special_gap = (
        a[order] for a in (sess, key, block, etype, path, url, elem, pk, camp, query, journey, friction, special_gap))
    n_h = len(sess)
    first_of_sess = np.r_[True, sess[1:] != sess[:-1]][:len(sess)]
    # login events take the stage of the event before them
    # the stage of an event follows from its page and type (the rules in docs/generator.md);
    # login events take the stage of the event before them
    stage = page_stage(site)[path]
    stage = np.where(np.isin(etype, [E["add_to_cart"], E["checkout_start"], E["payment_failed"]]), IN, stage)
    stage = np.where(etype == E["purchase"], PU, stage)
    stage = np.where(etype == E["login"], -1, stage)
    stage = _ffill(stage)
    logged_in = login[sess] & (key >= k_login[sess])
    # a signup logs the person in: the signup event and everything after it carry user_id
    su = np.flatnonzero(etype == E["signup"])
    signup_key = np.full(ns, np.iinfo(np.int64).max)
    np.minimum.at(signup_key, sess[su], key[su])
    logged_in |= key >= signup_key[sess]

    # ------------------------------------------------------------------ times inside a session
    w = rng.exponential(1.0, n_h)
    normal = ~first_of_sess & ~special_gap
    w = np.where(normal, w, 0.0)
    wsum = np.bincount(sess, weights=w, minlength=ns)
    d_extra = S["d_extra"].astype(float)
    gap = np.where(normal, 1000 + np.floor(d_extra[sess] * w / np.maximum(wsum[sess], 1e-12)), 0)
    gap = np.where(special_gap, rng.integers(120, 900, n_h), gap).astype(np.int64)
    csum = np.cumsum(gap)
    sstart = np.flatnonzero(first_of_sess)
    base = np.repeat(csum[sstart] - gap[sstart], np.diff(np.r_[sstart, n_h])) if n_h else csum
    t_true = S["start_ms"][sess] + (csum - base)

    # ------------------------------------------------------------------ referrer
    prev_url = np.r_[-1, url[:-1]]
    referrer = np.where(first_of_sess, -1, prev_url)
    ent = first_of_sess
    ext_org = rng.choice(len(C.ORGANIC_REFERRERS), size=n_h, p=C.ORGANIC_REFERRER_WEIGHTS)
    org_code = np.asarray([site.externals.get(r, -1) for r in C.ORGANIC_REFERRERS])[ext_org]
    camp_ref = np.asarray([site.externals.get(c[4], -1) for c in C.CAMPAIGNS])
    referrer = np.where(ent & (camp >= 0), camp_ref[np.maximum(camp, 0)], np.where(ent, org_code, referrer))
    # a click stays on its page: no referrer change is modelled, the previous page is the referrer

    person = S["person"][sess]
    dev = S["dev"][sess]

    # ------------------------------------------------------------------ properties
    props, prop = _properties(rng, pk, S, sess, query, path, site, seed)

    cols = dict(
        person=person, dev=dev, sess=sess, block=block, etype=etype, path=path, url=url, referrer=referrer,
        camp=camp, elem=elem, prop=prop, logged_in=logged_in, t_true=t_true, stage=stage, journey=journey,
        friction=friction, late_delay=S["late_delay"][sess], late_class=S["late_class"][sess],
    )
    # ------------------------------------------------------------------ bots
    bots = _bot_events(rng, pop, site, start_ms, end_ms)
    for k2 in cols:
        cols[k2] = np.concatenate([cols[k2], bots[k2].astype(cols[k2].dtype)])
    n = len(cols["person"])
    return Events(cols=cols, props=props, n=n)


def page_stage(site: C.Site) -> np.ndarray:
    """Stage of every page path (-1: none, e.g. /login)."""
    rules = ((AW, ("/", "/about")), (CO, ("/search", "/compare", "/pricing", "/signup", "/help/shipping")),
             (IN, ("/cart", "/checkout", "/checkout/payment", "/help/payment")), (PU, ("/checkout/confirmation",)),
             (LO, ("/account", "/account/orders", "/help/returns", "/help/warranty", "/help/contact")))
    out = np.full(len(site.paths), -1, dtype=np.int64)
    for stg, paths in rules:
        for p in paths:
            out[site.p(p)] = stg
    for i, p in enumerate(site.paths):
        if p.startswith(("/blog/", "/lp/")):
            out[i] = AW
        elif p.startswith("/products/"):
            out[i] = CO
    return out


def _ffill(stage):
    idx = np.where(stage >= 0, np.arange(len(stage)), 0)
    np.maximum.accumulate(idx, out=idx)
    return stage[idx]


def _properties(rng, pk, S, sess, query, path, site, seed):
    """Property JSON texts (a table) and each event's index into it (-1 = none)."""
    table: list[str] = []
    base = {}

    def add(kind, texts):
        base[kind] = len(table)
        table.extend(texts)

    add(PK_PV, [json.dumps({"load_ms": v}, separators=(",", ":")) for v in LOAD_MS])
    add(PK_SEARCH, [json.dumps({"query": q, "results": 3 + (7 * i) % 41}, separators=(",", ":"))
                    for i, q in enumerate(C.SEARCH_QUERIES)])
    add(PK_LOGIN, ['{"method":"password"}', '{"method":"google"}', '{"method":"password","remember_me":true}'])
    add(PK_SIGNUP, ['{"method":"email"}', '{"method":"google"}'])
    atc, chk = [], []
    for i in range(C.N_PRODUCTS):
        price = C.PRODUCT_PRICE_CENTS[i]
        for q in (1, 2, 3):
            atc.append(f'{{"product_id":"{C.PRODUCT_ID[i]}","price":{C.price_text(price)},"quantity":{q}}}')
            chk.append(f'{{"cart_value":{C.price_text(price * q)},"items":{q},"currency":"USD"}}')
    add(PK_ATC, atc)
    add(PK_CHECKOUT, chk)
    add(PK_PAYFAIL, [f'{{"error_code":"{c}","payment_method":"card"}}' for c in PAYFAIL_CODES])
    add(PK_FORMERR, [f'{{"form":"signup","field":"{f}","error":"{e}"}}' for f, e in FORM_ERRORS])
    add(PK_ERR, ['{"status":500}', '{"status":503}'])

    n = len(pk)
    prop = np.full(n, -1, dtype=np.int64)
    m = (pk == PK_PV) & (rng.random(n) < 0.5)
    prop[m] = base[PK_PV] + rng.integers(0, len(LOAD_MS), int(m.sum()))
    m = pk == PK_SEARCH
    prop[m] = base[PK_SEARCH] + query[m]
    m = pk == PK_LOGIN
    prop[m] = base[PK_LOGIN] + rng.integers(0, 3, int(m.sum()))
    m = pk == PK_SIGNUP
    prop[m] = base[PK_SIGNUP] + rng.integers(0, 2, int(m.sum()))
    pq = S["product"][sess] * 3 + (S["qty"][sess] - 1)
    m = pk == PK_ATC
    prop[m] = base[PK_ATC] + pq[m]
    m = pk == PK_CHECKOUT
    prop[m] = base[PK_CHECKOUT] + pq[m]
    m = pk == PK_PAYFAIL
    prop[m] = base[PK_PAYFAIL] + rng.integers(0, len(PAYFAIL_CODES), int(m.sum()))
    m = pk == PK_FORMERR
    prop[m] = base[PK_FORMERR] + rng.integers(0, len(FORM_ERRORS), int(m.sum()))
    m = pk == PK_ERR
    prop[m] = base[PK_ERR] + (rng.random(int(m.sum())) < 0.2)
    # purchases: one text per order (order ids are unique)
    m = np.flatnonzero(pk == PK_PURCHASE)
    ps = sess[m]
    oid = order_ids(ps, seed)
    texts = [f'{{"order_id":"{o}","product_id":"{C.PRODUCT_ID[pr]}","price":{C.price_text(C.PRODUCT_PRICE_CENTS[pr])},'
             f'"quantity":{q},"revenue":{C.price_text(C.PRODUCT_PRICE_CENTS[pr] * q)},"currency":"USD"}}'
             for o, pr, q in zip(oid.tolist(), S["product"][ps].tolist(), S["qty"][ps].tolist())]
    prop[m] = len(table) + np.arange(len(m))
    table.extend(texts)
    return table, prop


def order_ids(session_idx: np.ndarray, seed: int) -> np.ndarray:
    """Order id of the purchase in a session ('o-' + 12 hex), shared with the CRM order."""
    from jobs.generator.util import hex_words, mix64
    h = hex_words(mix64(np.asarray(session_idx, dtype=np.uint64), seed * 1009 + 11))
    return np.char.add("o-", h.astype("U12")).astype(object)


def _bot_events(rng, pop: Population, site: C.Site, start_ms: int, end_ms: int) -> dict:
    bots = np.flatnonzero(pop.is_bot)
    days = (end_ms - start_ms) // MS_DAY
    parts = []
    for b in bots.tolist():                         # a handful of bots, vectorised per bot
        per_day = rng.integers(P.BOT_EVENTS_PER_DAY[0], P.BOT_EVENTS_PER_DAY[1] + 1, days)
        day = np.repeat(np.arange(days), per_day)
        t = start_ms + day * MS_DAY + rng.integers(0, MS_DAY, len(day))
        t.sort()
        k = len(t)
        u = rng.random(k)
        path = np.where(u < 0.75, site.prod0 + rng.integers(0, C.N_PRODUCTS, k),
                        np.where(u < 0.9, site.cat0 + rng.integers(0, len(C.CATEGORIES), k),
                                 site.rev0 + rng.integers(0, C.N_PRODUCTS, k)))
        parts.append(dict(person=np.full(k, b), dev=np.full(k, pop.person_devices[b, 0]), sess=np.full(k, -1),
                          block=np.full(k, B_BOT), etype=np.full(k, E["page_view"]), path=path, url=path.copy(),
                          referrer=np.full(k, -1), camp=np.full(k, -1), elem=np.full(k, -1), prop=np.full(k, -1),
                          logged_in=np.zeros(k, bool), t_true=t, stage=np.full(k, -1), journey=np.full(k, -1),
                          friction=np.zeros(k, np.int64), late_delay=np.zeros(k, np.int64),
                          late_class=np.zeros(k, np.int64)))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ============================================================================ delivery


@dataclass
class Delivery:
    """Per line written: event index, copy number, folder day, file, line number; per event: times."""
    ev: np.ndarray
    copy: np.ndarray
    folder_day: np.ndarray
    part: np.ndarray
    line_no: np.ndarray
    client_ms: np.ndarray      # per event, device clock
    sent_ms: np.ndarray
    received_ms: np.ndarray
    expected_ms: np.ndarray    # what the pipeline computes as event time
    beyond: np.ndarray         # per event
    malformed_kind: np.ndarray  # per event, index into CLICKSTREAM_KINDS or -1


def deliver(ev: Events, pop: Population, seed: int, malformed_rate: float) -> Delivery:
    rng = stream(seed, "delivery")
    c = ev.cols
    n = ev.n
    skew = pop.dev_skew_ms[c["dev"]]
    batch = rng.integers(50, 5000, n)
    net = rng.integers(0, 3000, n)
    true_send = c["t_true"] + c["late_delay"] + batch
    client = c["t_true"] + skew
    sent = true_send + skew
    received = true_send + net
    corrected = np.where(np.abs(sent - received) > 60_000, received - (sent - client), client)
    arrival = received // MS_DAY
    lateness = arrival - corrected // MS_DAY
    beyond = lateness > 3

    # malformed lines: only plain browsing events (and bot hits), never a beyond-window line
    kinds = np.full(n, -1, dtype=np.int64)
    cand = np.flatnonzero(np.isin(c["block"], BROWSE_BLOCKS + (B_BOT,)) & ~beyond)
    if malformed_rate > 0 and len(cand):
        want = max(int(round(malformed_rate * n)), min(len(CLICKSTREAM_KINDS), max(1, n // 8)))
        chosen = np.sort(rng.choice(cand, size=min(want, len(cand)), replace=False))
        kinds[chosen] = pick_kinds(rng, len(chosen), len(CLICKSTREAM_KINDS))

    # duplicate deliveries of valid lines
    dup_ok = (kinds < 0) & ~beyond
    dup = dup_ok & (rng.random(n) < P.P_DUPLICATE_EVENT)
    di = np.flatnonzero(dup)
    extra = 1 + (rng.random(len(di)) < P.P_TRIPLE)
    cev = np.repeat(di, extra)
    ccopy = np.ones(len(cev), dtype=np.int64)
    if len(cev):
        first = np.r_[True, cev[1:] != cev[:-1]]
        ccopy = np.where(first, 1, 2)
    next_ok = (arrival[cev] + 1 - corrected[cev] // MS_DAY) <= 3
    go_next = next_ok & (rng.random(len(cev)) < P.P_DUPLICATE_NEXT_FOLDER)
    c_folder = arrival[cev] + go_next
    c_sort = np.where(go_next, (arrival[cev] + 1) * MS_DAY + rng.integers(0, 6 * 3_600_000, len(cev)),
                      np.minimum(received[cev] + rng.integers(1000, 2 * 3_600_000, len(cev)),
                                 (arrival[cev] + 1) * MS_DAY - 1))

    line_ev = np.concatenate([np.arange(n), cev])
    line_copy = np.concatenate([np.zeros(n, np.int64), ccopy])
    line_folder = np.concatenate([arrival, c_folder])
    line_sort = np.concatenate([received, c_sort])
    order = np.lexsort((line_copy, line_ev, line_sort, line_folder))
    line_ev, line_copy, line_folder = line_ev[order], line_copy[order], line_folder[order]
    # position inside the folder -> part file and line number
    start_of_folder = np.r_[True, line_folder[1:] != line_folder[:-1]]
    fidx = np.flatnonzero(start_of_folder)
    rank = np.arange(len(line_ev)) - np.repeat(fidx, np.diff(np.r_[fidx, len(line_ev)]))
    part = rank // P.MAX_LINES_PER_PART
    line_no = rank % P.MAX_LINES_PER_PART + 1
    return Delivery(ev=line_ev, copy=line_copy, folder_day=line_folder, part=part, line_no=line_no,
                    client_ms=client, sent_ms=sent, received_ms=received, expected_ms=corrected, beyond=beyond,
                    malformed_kind=kinds)


# ============================================================================ writing


class Fragments:
    """Ready-made JSON fragments (bytes) for every categorical field (adjacent fields merged)."""

    def __init__(self, pop: Population, site: C.Site, props: list[str]):
        def arr(xs):
            return np.asarray([x.encode("utf-8") for x in xs], dtype=object)

        def with_null(texts, key):
            return arr(list(texts) + [f',"{key}":null', ""])

        self.anon = pop.dev_anon.astype("U36").astype("S36").view(np.uint8).reshape(-1, 36)
        self.user = with_null((f',"user_id":"{u}"' for u in pop.user_id.tolist()), "user_id")
        self.etype = arr(f',"event_type":"{e}"' for e in ETYPES)
        self.url = with_null((f',"page_url":"{u}"' for u in site.urls), "page_url")
        self.path = arr(f',"page_path":"{p}"' for p in site.paths)
        self.ref = with_null((f',"referrer":"{u}"' for u in site.urls), "referrer")
        # utm_source, utm_medium, utm_campaign: one fragment per campaign, 8 null/omitted patterns without one
        utm = ["".join(f',"{k}":"{c[i]}"' for i, k in ((1, "utm_source"), (2, "utm_medium"), (3, "utm_campaign")))
               for c in C.CAMPAIGNS]
        for pattern in range(8):
            utm.append("".join("" if (pattern >> i) & 1 else f',"{k}":null'
                               for i, k in enumerate(("utm_source", "utm_medium", "utm_campaign"))))
        self.utm = arr(utm)
        self.n_camp = len(C.CAMPAIGNS)
        # device_type + user_agent, by user agent (which fixes the device type) and device_type present/null/omitted
        ua_type = {}
        for t, lst in USER_AGENTS.items():
            for ua in lst:
                ua_type[ua] = t
        devua = []
        for ua in pop.ua_table:
            t = ua_type.get(ua, "desktop")
            for dv in (f',"device_type":"{t}"', ',"device_type":null', ""):
                devua.append(dv + f',"user_agent":{json.dumps(ua)}')
        self.devua = arr(devua)
        self.elem = with_null((f',"element_id":"{e}"' for e in C.ELEMENTS), "element_id")
        self.props = with_null((f',"properties":{t}' for t in props), "properties")
        self.drift_end = arr([f',"app_version":"{v}","consent":"{c}"}}\n' for v in (P.WEB_VERSION, P.APP_VERSION)
                              for c in P.CONSENT_VALUES] + ["}\n"])
        self.n_consent = len(P.CONSENT_VALUES)


def _pick(table: np.ndarray, code: np.ndarray, omit: np.ndarray) -> np.ndarray:
    """table[code] where code >= 0, else the null (or omitted) fragment at the table's end."""
    n_real = len(table) - 2
    return table[np.where(code >= 0, code, n_real + omit.astype(np.int64))]


_CL, _SE, _RE = b',"client_ts":"', b',"sent_at":"', b',"received_at":"'


def _ts_single(pre: bytes, ms: np.ndarray, off_min: np.ndarray | None, z: bool) -> np.ndarray:
    """One timestamp fragment for a few rows: offset, 'Z', or (off_min None and not z) epoch ms."""
    n = len(ms)
    if off_min is None and not z:
        pre = pre[:-1]                       # a JSON number: no opening quote
        m = np.empty((n, len(pre) + 13), dtype=np.uint8)
        put_const(m, 0, pre)
        put_digits(m, len(pre), ms, 13)
        return rows_as_bytes(m)
    local = ms if off_min is None else ms + off_min.astype(np.int64) * 60_000
    w = 25 if z else 30
    m = np.empty((n, len(pre) + w), dtype=np.uint8)
    put_const(m, 0, pre)
    put_iso_ms(m, len(pre), local)
    if z:
        put_const(m, len(pre) + 23, b'Z"')
    else:
        put_offset(m, len(pre) + 23, off_min)
        m[:, -1] = ord('"')
    return rows_as_bytes(m)


def _timestamps(cl, off_c, se, off_s, rc, use_z, epoch) -> np.ndarray:
    """client_ts + sent_at + received_at as one fragment per row."""
    n = len(cl)
    a = len(_CL)
    b = a + 30 + len(_SE)
    c = b + 30 + len(_RE)
    m = np.empty((n, c + 25), dtype=np.uint8)
    put_const(m, 0, _CL)
    put_iso_ms(m, a, cl + off_c.astype(np.int64) * 60_000)
    put_offset(m, a + 23, off_c)
    m[:, a + 29] = ord('"')
    put_const(m, a + 30, _SE)
    put_iso_ms(m, b, se + off_s.astype(np.int64) * 60_000)
    put_offset(m, b + 23, off_s)
    m[:, b + 29] = ord('"')
    put_const(m, b + 30, _RE)
    put_iso_ms(m, c, rc)
    put_const(m, c + 23, b'Z"')
    out = rows_as_bytes(m)
    zc = use_z & (off_c == 0)
    zs = use_z & (off_s == 0)
    odd = np.flatnonzero(zc | zs | epoch)
    if len(odd):                                   # rare rows: rebuild their three parts separately
        e, zc, zs = epoch[odd], zc[odd], zs[odd]
        cfrag = np.empty(len(odd), dtype=object)
        for mask, kw in ((e, dict(off_min=None, z=False)), (~e & zc, dict(off_min=None, z=True)),
                         (~e & ~zc, dict(off_min="c", z=False))):
            k = np.flatnonzero(mask)
            if len(k):
                om = off_c[odd][k] if kw["off_min"] == "c" else None
                cfrag[k] = _ts_single(_CL, cl[odd][k], om, kw["z"])
        sfrag = np.empty(len(odd), dtype=object)
        k = np.flatnonzero(zs)
        if len(k):
            sfrag[k] = _ts_single(_SE, se[odd][k], None, True)
        k = np.flatnonzero(~zs)
        if len(k):
            sfrag[k] = _ts_single(_SE, se[odd][k], off_s[odd][k], False)
        rfrag = _ts_single(_RE, rc[odd], None, True)
        out[odd] = cfrag + sfrag + rfrag
    return out


def format_lines(idx: np.ndarray, ev: Events, d: Delivery, pop: Population, frag: Fragments, tz: OffsetTable,
                 person_zone: np.ndarray, drift_from_day: int, folder_day: np.ndarray, bits: np.ndarray,
                 eid: np.ndarray) -> list[np.ndarray]:
    """The JSON fragments (object arrays of bytes) of the given events, in key order."""
    c = ev.cols
    b = bits[idx]
    n = len(idx)

    def bit(k):
        return (b >> np.uint32(k)) & np.uint32(1)

    dev = c["dev"][idx]
    dtype_ = pop.dev_type[dev]
    is_app = dtype_ == 3
    zone = person_zone[pop.dev_owner[dev]]
    p1, p2 = b'{"event_id":"', b'","anonymous_id":"'
    a = len(p1)
    b2 = a + 36 + len(p2)
    head = np.empty((n, b2 + 37), dtype=np.uint8)
    put_const(head, 0, p1)
    head[:, a:a + 36] = eid[idx]
    put_const(head, a + 36, p2)
    head[:, b2:b2 + 36] = frag.anon[dev]
    head[:, b2 + 36] = ord('"')
    out = [rows_as_bytes(head)]
    uid_code = np.where(c["logged_in"][idx], c["person"][idx], -1)
    out.append(_pick(frag.user, uid_code, bit(0)))
    out.append(frag.etype[c["etype"][idx]])
    out.append(_pick(frag.url, np.where(is_app, -1, c["url"][idx]), bit(1)))
    out.append(frag.path[c["path"][idx]])
    out.append(_pick(frag.ref, np.where(is_app, -1, c["referrer"][idx]), bit(2)))
    camp = c["camp"][idx]
    out.append(frag.utm[np.where(camp >= 0, camp, frag.n_camp + ((b >> np.uint32(3)) & np.uint32(7)).astype(np.int64))])
    null_dev = ((b >> np.uint32(16)) & np.uint32(127)) == 0     # ~1%
    variant = np.where(null_dev, 1 + bit(6).astype(np.int64), 0)
    out.append(frag.devua[pop.dev_ua[dev] * 3 + variant])
    out.append(_pick(frag.elem, c["elem"][idx], bit(8)))
    # timestamps: local time of the device's owner, on the device clock
    cl = d.client_ms[idx]
    se = d.sent_ms[idx]
    epoch = ((b >> np.uint32(24)) & np.uint32(255)) < int(256 * P.P_EPOCH_CLIENT_TS)
    out.append(_timestamps(cl, tz.offset_minutes(zone, cl), se, tz.offset_minutes(zone, se), d.received_ms[idx],
                           bit(9).astype(bool), epoch))
    out.append(_pick(frag.props, c["prop"][idx], bit(10)))
    consent = ((b >> np.uint32(11)) & np.uint32(31)).astype(np.int64) % frag.n_consent
    drift_code = np.where(folder_day >= drift_from_day, is_app.astype(np.int64) * frag.n_consent + consent,
                          len(frag.drift_end) - 1)
    out.append(frag.drift_end[drift_code])
    return out


def join_lines(fields: list[np.ndarray]) -> bytes:
    k = len(fields)
    n = len(fields[0])
    flat = np.empty(n * k, dtype=object)
    for i, f in enumerate(fields):
        flat[i::k] = f
    return b"".join(flat.tolist())


def write_clickstream(out: Path, ev: Events, d: Delivery, pop: Population, site: C.Site, tz: OffsetTable,
                      person_zone: np.ndarray, seed: int, drift_from_day: int, eid: np.ndarray,
                      pool: ThreadPoolExecutor):
    """Formats every part file and hands it to the pool for compression; returns (futures, files)."""
    rng = stream(seed, "ndjson")
    frag = Fragments(pop, site, ev.props)
    bits = rng.integers(0, 2**32, ev.n, dtype=np.uint64).astype(np.uint32)
    defect_rng = stream(seed, "ndjson-defects")
    futures = []
    keys = d.folder_day * 1000 + d.part
    if not len(keys):
        return futures, []
    bounds = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
    files = []
    for a, z in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        idx = d.ev[a:z]
        # drift fields follow the original delivery day, so a re-sent copy stays identical
        fields = format_lines(idx, ev, d, pop, frag, tz, person_zone, drift_from_day, d.received_ms[idx] // MS_DAY,
                              bits, eid)
        mk = d.malformed_kind[idx]
        bad = np.flatnonzero((mk >= 0) & (d.copy[a:z] == 0))
        if len(bad):
            valid = join_lines([f[bad] for f in fields]).decode("utf-8").split("\n")[:-1]
            broken = [corrupt_json_line(line, CLICKSTREAM_KINDS[k], defect_rng)
                      for line, k in zip(valid, mk[bad].tolist())]
            fields[0] = fields[0].copy()
            fields[0][bad] = np.asarray([(x + "\n").encode("utf-8") for x in broken], dtype=object)
            for f in range(1, len(fields)):
                fields[f] = fields[f].copy()
                fields[f][bad] = b""
        data = join_lines(fields)
        day = str(day_text(np.asarray([int(d.folder_day[a]) * MS_DAY]))[0])
        part = int(d.part[a])
        path = out / "clickstream" / f"arrival_date={day}" / f"part-{part:05d}.ndjson.gz"
        files.append((path, a, z))
        futures.append(pool.submit(_gz_write, path, data))
    return futures, files


def _gz_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = gzip_bytes([data], P.GZIP_LEVEL)
    with open(path, "wb") as f:
        f.write(blob)
