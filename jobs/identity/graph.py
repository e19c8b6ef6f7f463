"""The identity graph: which ids were seen together, which ids are shared, and the
customer each id belongs to.

Nodes are ids written `<t>:<value>` (t: c customer_id, u user_id, e email hash,
p phone hash, a anonymous device id). The graph state (every node and link ever seen,
with first and last sighting) is a commutative merge of each night's evidence, so any
sequence of nights gives the same state as one rebuild.

Merging rules (docs/identity.md):
* An id linked to more than `max_links_per_id` distinct CRM customers or user ids is
  shared (a switchboard phone, a family mailbox) and merges nothing.
* Devices never merge accounts: a device is attached to the customer of its one user,
  and a device seen with two or more users is shared (see `attribute_events`).
* Components above `max_component_size` are split by CRM customer id.
* `customer_key` hashes the component's anchor: its earliest-seen id (ties: customer_id,
  user_id, email, phone, then the value), so an id that joins later never changes the key
  of the history already written.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.identity.components import connected_components
from jobs.identity.lineage import cut_lineage, release

ID_COLUMNS = {"c": "customer_id", "u": "user_id", "p": "phone_hash", "e": "email_hash", "a": "anonymous_id"}
TYPE_NAMES = {"c": "customer_id", "u": "user_id", "e": "email_hash", "p": "phone_hash", "a": "anonymous_id"}
# anchor preference among ids first seen at the same instant
TYPE_RANK = {"c": 0, "u": 1, "e": 2, "p": 3, "a": 4}
FIRST_EVENT_TYPE = ("struct<event_at:timestamp,event_id:string,channel:string,touchpoint:string,device_type:string,"
                    "utm_source:string,utm_campaign:string>")
FIRST_TOUCH_FIELDS = ["event_at", "event_id", "channel", "touchpoint", "device_type", "utm_source", "utm_campaign"]


@dataclass(frozen=True)
class IdentitySettings:
    max_links_per_id: int
    max_component_size: int
    restitch_days: int
    max_rounds: int


def node(kind: str, value: Column) -> Column:
    return F.when(value.isNotNull(), F.concat(F.lit(f"{kind}:"), value))


def node_type(col: Column) -> Column:
    return F.substring(col, 1, 1)


def node_value(col: Column) -> Column:
    return F.regexp_extract(col, r"^.:(.*)$", 1)


def customer_key_of(anchor: Column) -> Column:
    return F.substring(F.sha2(F.concat(F.lit("customer|"), anchor), 256), 1, 32)


# ------------------------------------------------------------------ evidence


def evidence_from_events(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(nodes, links) seen in canonical events. An event links its ids in the order
    customer_id, user_id, phone, email, device: a chain connects them all."""
    ids = F.filter(F.array(*[node(k, F.col(c)) for k, c in ID_COLUMNS.items()]), lambda x: x.isNotNull())
    # an event with no id at all (a call from a withheld number) is a customer of its own
    ids = F.when(F.size(ids) == 0, F.array(node("x", F.col("event_id")))).otherwise(ids)
    first = F.struct(*[F.col(c) for c in FIRST_TOUCH_FIELDS])
    e = events.select(ids.alias("ids"), F.col("event_at"), first.alias("first_event"))
    nodes = (e.select(F.explode("ids").alias("node"), "event_at", "first_event")
             .groupBy("node")
             .agg(F.min("event_at").alias("first_seen_at"), F.max("event_at").alias("last_seen_at"),
                  F.min("first_event").alias("first_event")))
    pairs = F.arrays_zip(F.slice("ids", 1, F.greatest(F.size("ids") - 1, F.lit(0))),
                         F.slice("ids", 2, F.greatest(F.size("ids") - 1, F.lit(1))))
    links = (e.where(F.size("ids") > 1)
             .select(F.explode(pairs).alias("p"), "event_at")
             .select(F.least("p.0", "p.1").alias("a"), F.greatest("p.0", "p.1").alias("b"), "event_at"))
    return nodes, _link_agg(links)


def evidence_from_customers(customers: DataFrame) -> tuple[DataFrame, DataFrame]:
    """CRM records: the customer node (first seen when created) linked to its email,
    phone and web user id (first seen in the first version that names them)."""
    c = node("c", F.col("customer_id"))
    others = [node("e", F.col("email_hash")), node("p", F.col("phone_hash")), node("u", F.col("web_user_id"))]
    nodes_c = customers.select(c.alias("node"), F.col("created_at").alias("first_seen_at"),
                               F.col("updated_at").alias("last_seen_at"))
    nodes_o = customers.select(F.explode(F.filter(F.array(*others), lambda x: x.isNotNull())).alias("node"),
                               F.col("updated_at").alias("first_seen_at"), F.col("updated_at").alias("last_seen_at"))
    no_event = F.lit(None).cast(FIRST_EVENT_TYPE)
    nodes = (nodes_c.unionByName(nodes_o)
             .groupBy("node").agg(F.min("first_seen_at").alias("first_seen_at"),
                                  F.max("last_seen_at").alias("last_seen_at"))
             .withColumn("first_event", no_event))
    links = (customers.select(c.alias("c"), F.explode(F.filter(F.array(*others), lambda x: x.isNotNull())).alias("o"),
                              F.col("updated_at").alias("event_at"))
             .select(F.least("c", "o").alias("a"), F.greatest("c", "o").alias("b"), "event_at"))
    return nodes, _link_agg(links)





def _link_agg(links: DataFrame) -> DataFrame:
    return links.groupBy("a", "b").agg(F.min("event_at").alias("first_seen_at"),
                                       F.max("event_at").alias("last_seen_at"))


def merge_nodes(*parts: DataFrame) -> DataFrame:
    df = parts[0]
    for p in parts[1:]:
        df = df.unionByName(p)
    return df.groupBy("node").agg(F.min("first_seen_at").alias("first_seen_at"),
                                  F.max("last_seen_at").alias("last_seen_at"),
                                  F.min("first_event").alias("first_event"))


def merge_links(*parts: DataFrame) -> DataFrame:
    df = parts[0]
    for p in parts[1:]:
        df = df.unionByName(p)
    return df.groupBy("a", "b").agg(F.min("first_seen_at").alias("first_seen_at"),
                                    F.max("last_seen_at").alias("last_seen_at"))


# ------------------------------------------------------------------ resolution


@dataclass
class Resolution:
    """node_keys is checkpointed: release it (jobs.identity.lineage.release) once nothing reads it."""
    node_keys: DataFrame      # node, customer_key, is_shared, component_size
    device_users: DataFrame   # device node, user node, first_seen_at, user's customer_key (non-shared users)
    rounds: int
    oversized_components: int


def _both_directions(links: DataFrame) -> DataFrame:
    return links.select(F.col("a").alias("n"), F.col("b").alias("m")).unionByName(
        links.select(F.col("b").alias("n"), F.col("a").alias("m")))


def shared_nodes(links: DataFrame, max_links: int) -> DataFrame:
    """Nodes linked to more than max_links distinct CRM customers or user ids (devices: to more than one user)."""
    both = _both_directions(links)
    counts = both.groupBy("n").agg(
        F.count_distinct(F.when(node_type(F.col("m")) == "c", F.col("m"))).alias("n_customers"),
        F.count_distinct(F.when(node_type(F.col("m")) == "u", F.col("m"))).alias("n_users"))
    limit = F.when(node_type(F.col("n")) == "a", F.lit(1)).otherwise(F.lit(max_links))
    return counts.where((F.col("n_customers") > limit) | (F.col("n_users") > limit)).select(F.col("n").alias("node"))


def resolve(nodes: DataFrame, links: DataFrame, settings: IdentitySettings) -> Resolution:
    shared = shared_nodes(links, settings.max_links_per_id).withColumn("is_shared", F.lit(True))
    flagged = nodes.join(shared, "node", "left").withColumn("is_shared", F.coalesce("is_shared", F.lit(False)))
    flagged = cut_lineage(flagged)
    mergeable = flagged.where(~F.col("is_shared") & (node_type(F.col("node")) != "a")).select("node")
    ok = mergeable.withColumnRenamed("node", "a").withColumn("_a", F.lit(True))
    ok_b = mergeable.withColumnRenamed("node", "b").withColumn("_b", F.lit(True))
    merge_links_ = (links.join(ok, "a", "inner").join(ok_b, "b", "inner").select("a", "b"))
    edges = merge_links_.select(F.col("a").alias("src"), F.col("b").alias("dst")).unionByName(
        mergeable.select(F.col("node").alias("src"), F.col("node").alias("dst")))
    components, rounds = connected_components(edges, max_rounds=settings.max_rounds)
    comp = components.join(flagged.select("node", "first_seen_at"), "node", "inner")
    comp, oversized = _split_oversized(comp, merge_links_, settings.max_component_size)
    anchor_order = Window.partitionBy("component").orderBy(
        "first_seen_at", _type_rank(F.col("node")), "node")
    keyed = (comp.withColumn("_anchor", F.first("node").over(anchor_order.rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing)))
             .withColumn("component_size", F.count("*").over(Window.partitionBy("component")))
             .select("node", customer_key_of(F.col("_anchor")).alias("customer_key"), "component_size"))
    # shared ids and devices are their own customers unless the device rule says otherwise
    alone = (flagged.join(keyed.select("node"), "node", "left_anti")
             .select("node", customer_key_of(F.col("node")).alias("customer_key"),
                     F.lit(1).cast("long").alias("component_size")))
    node_keys = keyed.unionByName(alone).join(flagged.select("node", "is_shared"), "node", "inner")
    node_keys = cut_lineage(node_keys)
    release(flagged, components)  # node_keys holds all that is read from them from here on
    device_users = (links.where((node_type(F.col("a")) == "a") | (node_type(F.col("b")) == "a"))
                    .select(F.when(node_type(F.col("a")) == "a", F.col("a")).otherwise(F.col("b")).alias("device"),
                            F.when(node_type(F.col("a")) == "a", F.col("b")).otherwise(F.col("a")).alias("user"),
                            "first_seen_at")
                    .where(node_type(F.col("user")) == "u")
                    .join(node_keys.select(F.col("node").alias("user"), F.col("customer_key").alias("user_key")),
                          "user", "inner"))
    return Resolution(node_keys, device_users, rounds, oversized)


def _type_rank(col: Column) -> Column:
    expr = F.lit(9)
    for kind, rank in TYPE_RANK.items():
        expr = F.when(node_type(col) == kind, F.lit(rank)).otherwise(expr)
    return expr


def _split_oversized(comp: DataFrame, links: DataFrame, cap: int) -> tuple[DataFrame, int]:
    """Components above the cap: every CRM customer id becomes its own group, and other ids
    join the smallest customer id they are directly linked to (else stand alone)."""
    sizes = comp.groupBy("component").count()
    big = sizes.where(F.col("count") > cap).select("component")
    n_big = big.count()
    if n_big == 0:
        return comp, 0
    inside = comp.join(big, "component", "inner")
    both = _both_directions(links)
    direct = (both.where(node_type(F.col("m")) == "c").groupBy("n").agg(F.min("m").alias("crm")))
    regrouped = (inside.join(direct, inside["node"] == direct["n"], "left")
                 .select("node", "first_seen_at",
                         F.when(node_type(F.col("node")) == "c", F.col("node"))
                         .otherwise(F.coalesce("crm", "node")).alias("component")))
    rest = comp.join(big, "component", "left_anti")
    return rest.unionByName(regrouped.select(*rest.columns)), n_big


# ------------------------------------------------------------------ events -> customers


def attribute_events(events: DataFrame, node_keys: DataFrame, device_users: DataFrame, logins: DataFrame,
                     restitch_days: int, broadcast: bool = False) -> DataFrame:
    """Add `customer_key` to every event.

    An event with a customer id, user id, phone or email takes the customer of the first of
    those (in that order). An event that carries only a device id takes:
    * the customer of the device's one user when that user's first login on the device is
      at most `restitch_days` after the event;
    * on a device with two or more such users (shared): the user of the nearest login on
      that device within `restitch_days` (ties: the earlier login, then the smaller user id);
    * else the device's own key (an anonymous visitor).
    `logins`: (device, user, login_at) of events carrying both ids, from at least
    restitch_days before the earliest event here. All rules use event times only, so a
    nightly run and a rebuild attribute every event alike.

    The events are wide and move once more afterwards (to their customer), so they are
    looked up, not shuffled, where that can be: by id, or by device for a device with at
    most one user; only events on shared devices are resolved one by one and joined back.
    `broadcast`: the ids and devices are few enough to send to every task.
    """
    small = F.broadcast if broadcast else (lambda frame: frame)
    primary = F.coalesce(*[node(k, F.col(c)) for k, c in ID_COLUMNS.items() if k != "a"])
    df = events.withColumn("_primary", primary).withColumn("_device", node("a", F.col("anonymous_id")))
    keys = node_keys.select(F.col("node").alias("_primary"), F.col("customer_key").alias("_pkey"))
    identified = df.where(F.col("_primary").isNotNull()).join(small(keys), "_primary", "left")

    reach = F.expr(f"INTERVAL {int(restitch_days)} DAYS")
    devices = (device_users.groupBy(F.col("device").alias("_device"))
               .agg(F.count_distinct("user").alias("_users"), F.min("first_seen_at").alias("_login_at"),
                    F.min("user_key").alias("_user_key")))
    anon = df.where(F.col("_primary").isNull()).join(small(devices), "_device", "left")
    own = customer_key_of(F.col("_device"))
    single = anon.where(F.col("_users").isNull() | (F.col("_users") == 1)).withColumn(
        "_akey", F.when(F.col("_login_at") <= F.col("event_at") + reach, F.col("_user_key")).otherwise(own))
    shared = anon.where(F.col("_users") > 1)
    on_shared = shared.select("event_id", "_device", "event_at")
    known = (on_shared.join(device_users.withColumnRenamed("device", "_device"), "_device", "inner")
             .where(F.col("first_seen_at") <= F.col("event_at") + reach)
             .groupBy("event_id").agg(F.count_distinct("user").alias("_n_users"), F.min("user_key").alias("_one_key")))
    near = (on_shared.join(logins.withColumnRenamed("device", "_device"), "_device", "inner")
            .where(F.abs(F.unix_micros("login_at") - F.unix_micros("event_at"))
                   <= F.lit(int(restitch_days) * 86_400_000_000))
            .withColumn("_rank", F.row_number().over(Window.partitionBy("event_id").orderBy(
                F.abs(F.unix_micros("login_at") - F.unix_micros("event_at")), "login_at", "user")))
            .where("_rank = 1").select("event_id", F.col("user").alias("_near_user")))
    near = near.join(node_keys.select(F.col("node").alias("_near_user"), F.col("customer_key").alias("_near_key")),
                     "_near_user", "left")
    shared_keys = (on_shared.join(known, "event_id", "left").join(near, "event_id", "left")
                   .select("event_id", F.when(F.col("_n_users") == 1, F.col("_one_key"))
                           .when(F.col("_n_users") > 1, F.coalesce("_near_key", own))
                           .otherwise(own).alias("_akey")))
    resolved = shared.join(shared_keys, "event_id", "left")
    out = identified.unionByName(single, allowMissingColumns=True).unionByName(resolved, allowMissingColumns=True)
    # an event with no id at all (a call from a withheld number) is a customer of its own
    nobody = customer_key_of(F.concat(F.lit("x:"), F.col("event_id")))
    return out.withColumn("customer_key", F.coalesce("_pkey", "_akey", nobody)).drop(
        "_primary", "_device", "_pkey", "_akey", "_users", "_login_at", "_user_key")
