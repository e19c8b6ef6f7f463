"""identity_map and customers from the resolved graph."""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.identity.graph import TYPE_NAMES, customer_key_of, node_type, node_value


def _type_name(col):
    expr = F.lit("event_id")  # x: an event that carried no id at all
    for kind, name in TYPE_NAMES.items():
        expr = F.when(col == kind, F.lit(name)).otherwise(expr)
    return expr


def device_keys(node_keys: DataFrame, device_users: DataFrame) -> DataFrame:
    """Devices with exactly one user belong to that user's customer; others are their own."""
    one = (device_users.groupBy("device").agg(F.count_distinct("user").alias("n"), F.min("user_key").alias("k"))
           .where("n = 1").select(F.col("device").alias("node"), F.col("k").alias("_user_key")))
    return (node_keys.join(one, "node", "left")
            .withColumn("customer_key", F.coalesce("_user_key", "customer_key"))
            .drop("_user_key"))


def identity_map(nodes: DataFrame, node_keys: DataFrame) -> DataFrame:
    return (nodes.join(node_keys, "node", "inner")
            .select(_type_name(node_type(F.col("node"))).alias("id_type"), node_value(F.col("node")).alias("id_value"),
                    "customer_key", "first_seen_at", "last_seen_at", "is_shared"))


def customers(nodes: DataFrame, node_keys: DataFrame, crm_latest: DataFrame) -> DataFrame:
    """One row per customer_key: its ids, CRM attributes and first touch. Devices also get a row
    under their own key: their events before the first login belong to that anonymous visitor."""
    n = nodes.join(node_keys, "node", "inner")
    own_devices = (nodes.where(node_type(F.col("node")) == "a")
                   .select(customer_key_of(F.col("node")).alias("customer_key"), "node", "first_seen_at",
                           "last_seen_at", "first_event"))
    members = n.select("customer_key", "node", "first_seen_at", "last_seen_at", "first_event") \
        .unionByName(own_devices).dropDuplicates(["customer_key", "node"])
    kind = node_type(F.col("node"))
    agg = members.groupBy("customer_key").agg(
        F.min(F.when(kind == "c", node_value(F.col("node")))).alias("customer_id"),
        F.min(F.when(kind == "u", node_value(F.col("node")))).alias("user_id"),
        F.count("*").cast("long").alias("n_ids"),
        F.count(F.when(kind == "a", 1)).cast("long").alias("n_devices"),
        F.min("first_seen_at").alias("first_seen_at"),
        F.max("last_seen_at").alias("last_seen_at"),
        F.min("first_event").alias("first_event"),
    )
    crm = crm_latest.select("customer_id", "segment", "region", F.col("created_at").alias("crm_created_at"))
    out = agg.join(crm, "customer_id", "left")
    ctype = (F.when(F.col("customer_id").isNotNull(), "crm").when(F.col("user_id").isNotNull(), "web")
             .otherwise("anonymous"))
    return out.select(
        "customer_key", "customer_id", "user_id", "n_ids", "n_devices", "segment", "region", "crm_created_at",
        "first_seen_at", "last_seen_at",
        F.col("first_event.event_at").alias("first_touch_at"),
        F.col("first_event.channel").alias("first_touch_channel"),
        F.col("first_event.touchpoint").alias("first_touch_touchpoint"),
        F.col("first_event.device_type").alias("first_touch_device"),
        F.col("first_event.utm_source").alias("first_touch_utm_source"),
        F.col("first_event.utm_campaign").alias("first_touch_utm_campaign"),
        ctype.alias("customer_type"),
    )


def latest_crm(versions: DataFrame) -> DataFrame:
    w = Window.partitionBy("customer_id").orderBy(F.col("updated_at").desc(), F.col("arrival_date").desc())
    return versions.withColumn("_r", F.row_number().over(w)).where("_r = 1").drop("_r")


def journey_segments(journeys: DataFrame, customers_: DataFrame, versions: DataFrame) -> DataFrame:
    """Segment and region at the journey's first touch: the CRM version current when it started,
    else the first version written before it ended (a customer created at checkout)."""
    v = versions.select("customer_id", "updated_at", "segment", "region").dropDuplicates(["customer_id", "updated_at"])
    j = journeys.join(customers_.select("customer_key", "customer_id"), "customer_key", "left")
    cand = j.select("journey_id", "customer_id", "started_at", "ended_at").join(v, "customer_id", "inner") \
        .where(F.col("updated_at") <= F.col("ended_at"))
    before = F.col("updated_at") <= F.col("started_at")
    w = Window.partitionBy("journey_id").orderBy(
        before.desc(), F.when(before, F.col("updated_at")).desc_nulls_last(), F.col("updated_at").asc())
    pick = (cand.withColumn("_r", F.row_number().over(w)).where("_r = 1")
            .select("journey_id", "segment", "region"))
    return j.drop("customer_id").join(pick, "journey_id", "left")
