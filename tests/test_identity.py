"""Identity rules on tiny hand-made graphs: shared ids, households, re-stitching, keys, size cap."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from jobs.identity import graph, tables

T0 = datetime(2026, 3, 1, 12, 0, 0)
EVENT_COLS = ("event_id string, event_at timestamp, channel string, touchpoint string, device_type string, "
              "utm_source string, utm_campaign string, anonymous_id string, user_id string, customer_id string, "
              "email_hash string, phone_hash string")
CRM_COLS = ("customer_id string, email_hash string, phone_hash string, web_user_id string, created_at timestamp, "
            "updated_at timestamp")


def settings(**kw):
    base = dict(max_links_per_id=1, max_component_size=200, restitch_days=7, max_rounds=50)
    return graph.IdentitySettings(**{**base, **kw})


def ev(spark, rows):
    full = [(f"e{i}", at, "web", "web:/", "desktop", None, None, a, u, c, e, p)
            for i, (at, a, u, c, e, p) in enumerate(rows)]
    return spark.createDataFrame(full, EVENT_COLS)


def crm(spark, rows):
    return spark.createDataFrame(rows, CRM_COLS)


def resolve(spark, events, customers, **kw):
    n1, l1 = graph.evidence_from_events(events)
    n2, l2 = graph.evidence_from_customers(customers)
    nodes, links = graph.merge_nodes(n1, n2), graph.merge_links(l1, l2)
    res = graph.resolve(nodes, links, settings(**kw))
    keys = {r["node"]: (r["customer_key"], r["is_shared"]) for r in res.node_keys.collect()}
    return nodes, links, res, keys


def key_of(node: str) -> str:
    import hashlib

    return hashlib.sha256(f"customer|{node}".encode()).hexdigest()[:32]


def test_switchboard_phone_is_shared_and_merges_nobody(spark):
    customers = crm(spark, [(f"C{i}", f"mail{i}", "switchboard", None, T0, T0) for i in range(3)])
    _, _, _, keys = resolve(spark, ev(spark, [(T0, None, None, None, None, "switchboard")]), customers)
    assert keys["p:switchboard"] == (key_of("p:switchboard"), True)
    assert len({keys[f"c:C{i}"][0] for i in range(3)}) == 3
    for i in range(3):  # each customer keeps its own email
        assert keys[f"e:mail{i}"][0] == keys[f"c:C{i}"][0]


def test_key_hashes_the_earliest_seen_id_so_a_later_crm_record_keeps_it(spark):
    events = ev(spark, [(T0, "dev1", "u1", None, None, None)])
    customers = crm(spark, [("C9", "m9", None, "u1", T0 + timedelta(days=5), T0 + timedelta(days=5))])
    _, _, _, keys = resolve(spark, events, customers)
    assert keys["u:u1"][0] == keys["c:C9"][0] == keys["e:m9"][0] == key_of("u:u1")
    # ties at the same instant go to the CRM id
    customers = crm(spark, [("C9", "m9", None, "u1", T0, T0)])
    _, _, _, keys = resolve(spark, events, customers)
    assert keys["u:u1"][0] == key_of("c:C9")


@pytest.mark.parametrize("broadcast", [False, True], ids=["shuffled", "broadcast"])
def test_login_restitches_recent_anonymous_events_only(spark, broadcast):
    login = T0 + timedelta(days=10)
    events = ev(spark, [
        (login - timedelta(days=9), "dev1", None, None, None, None),   # beyond restitch_days: stays anonymous
        (login - timedelta(hours=3), "dev1", None, None, None, None),  # same visit: joins the user
        (login, "dev1", "u1", None, None, None),
        (login + timedelta(days=20), "dev1", None, None, None, None),  # after the login: the user's
    ])
    _, links, res, keys = resolve(spark, events, crm(spark, []))
    logins = spark.createDataFrame([("a:dev1", "u:u1", login)], "device string, user string, login_at timestamp")
    out = {r["event_id"]: r["customer_key"] for r in
           graph.attribute_events(events, res.node_keys, res.device_users, logins, 7, broadcast).collect()}
    user = keys["u:u1"][0]
    assert out == {"e0": key_of("a:dev1"), "e1": user, "e2": user, "e3": user}


@pytest.mark.parametrize("broadcast", [False, True], ids=["shuffled", "broadcast"])
def test_household_device_is_shared_and_events_follow_the_nearest_login(spark, broadcast):
    t1, t2 = T0, T0 + timedelta(days=2)
    events = ev(spark, [
        (t1, "tv", "u1", None, None, None),
        (t2, "tv", "u2", None, None, None),
        (t1 + timedelta(hours=1), "tv", None, None, None, None),   # nearest login: u1
        (t2 - timedelta(hours=2), "tv", None, None, None, None),   # nearest login: u2
        (t2 + timedelta(days=30), "tv", None, None, None, None),   # no login within 7 days: the device's own
    ])
    nodes, links, res, keys = resolve(spark, events, crm(spark, []))
    assert keys["a:tv"] == (key_of("a:tv"), True)
    assert keys["u:u1"][0] != keys["u:u2"][0]  # the device merges nobody
    logins = spark.createDataFrame([("a:tv", "u:u1", t1), ("a:tv", "u:u2", t2)],
                                   "device string, user string, login_at timestamp")
    out = {r["event_id"]: r["customer_key"] for r in
           graph.attribute_events(events, res.node_keys, res.device_users, logins, 7, broadcast).collect()}
    assert out["e2"] == keys["u:u1"][0] and out["e3"] == keys["u:u2"][0] and out["e4"] == key_of("a:tv")
    imap = {(r["id_type"], r["id_value"]): r for r in
            tables.identity_map(nodes, tables.device_keys(res.node_keys, res.device_users)).collect()}
    assert imap[("anonymous_id", "tv")]["is_shared"] is True


def test_oversized_component_is_split_by_crm_id_and_reported(spark):
    # with two links allowed per id, one email merges two CRM customers into one component of 3
    customers = crm(spark, [("C1", "family", None, None, T0, T0), ("C2", "family", None, None, T0, T0)])
    empty = ev(spark, [])
    _, _, res, keys = resolve(spark, empty, customers, max_links_per_id=2)
    assert res.oversized_components == 0 and keys["c:C1"][0] == keys["c:C2"][0]
    _, _, res, keys = resolve(spark, empty, customers, max_links_per_id=2, max_component_size=2)
    assert res.oversized_components == 1
    assert keys["c:C1"][0] != keys["c:C2"][0]
    assert keys["e:family"][0] == keys["c:C1"][0]  # joins the smallest CRM id it is linked to


@pytest.mark.parametrize("broadcast", [False, True], ids=["shuffled", "broadcast"])
def test_event_without_any_id_is_a_customer_of_its_own(spark, broadcast):
    events = ev(spark, [(T0, None, None, None, None, None)])
    nodes, links, res, keys = resolve(spark, events, crm(spark, []))
    logins = spark.createDataFrame([], "device string, user string, login_at timestamp")
    out = graph.attribute_events(events, res.node_keys, res.device_users, logins, 7, broadcast).first()
    assert out["customer_key"] is not None
    assert out["customer_key"] == key_of("x:e0")
