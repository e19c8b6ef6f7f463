"""Named funnels from config, counted per journey and per customer (SPEC 3.6, docs/analytics.md).

Each journey's events that matter are collected once, sorted by step_number, and every funnel
walks them with Spark's `aggregate` (a small state machine per journey): the entry is the
journey's first step-1 event, and the walk records when each later step is matched."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.analytics.breakdowns import with_breakdowns
from jobs.analytics.funnel_config import EventPredicate, NamedFunnel, check_unique_names

COLUMNS = [
    "journey_start_date", "funnel_name", "unit", "breakdown", "breakdown_value", "step", "step_name",
    "population", "entered", "reached", "previous_step_reached", "conversion_rate_from_start",
    "conversion_rate_from_previous", "mean_seconds_from_entry", "median_seconds_from_entry",
    "p90_seconds_from_entry",
]
_STR_LIST_FIELDS = ("event_type", "source", "channel", "touchpoint")


def predicate(p: EventPredicate) -> Column:
    """True when the event matches (never null)."""
    cond = F.lit(True)
    for field in _STR_LIST_FIELDS:
        values = getattr(p, field)
        if values is not None:
            cond = cond & F.col(field).isin(values)
    if p.page_path is not None:
        cond = cond & F.col("page_path").rlike(f"^(?:{p.page_path})$")
    for key, value in (p.attributes or {}).items():
        cond = cond & (F.col("attributes")[F.lit(key)] == F.lit(value))
    return F.coalesce(cond, F.lit(False))


def _property(name: str) -> Column:
    if name.startswith("attributes."):
        return F.col("attributes")[F.lit(name[len("attributes."):])]
    return F.col(name).cast("string")


def _event_fields(funnels: list[NamedFunnel]) -> list[Column]:
    """Per event and funnel: which steps (m) and exclusions (x) it matches, and its held values (h)."""
    fields = []
    for i, f in enumerate(funnels):
        fields.append(F.array(*[predicate(s) for s in f.steps]).alias(f"m{i}"))
        fields.append(F.array(*[predicate(x) for x in f.exclusions], F.lit(False)).alias(f"x{i}"))
        held = [_property(p) for p in f.hold_constant] or [F.lit(None).cast("string")]
        fields.append(F.array(*held).alias(f"h{i}"))
    return fields


def _entry(i: int, events: Column) -> Column:
    """The journey's first step-1 event (null: the journey never enters the funnel)."""
    return F.try_element_at(F.filter(events, lambda e: e[f"m{i}"][0]), F.lit(1))


def _walk(f: NamedFunnel, i: int, events: Column, entry: Column) -> Column:
    """array<long> with the microsecond time each step was matched (null: not reached), or null
    when the journey has no step-1 event. `entry` is a column (computed once, not per element)."""
    n = len(f.steps)
    m, x, h = f"m{i}", f"x{i}", f"h{i}"
    end = entry["us"] + F.lit(f.window_micros)
    # later step-1 events never restart the window; the end is inclusive
    after = F.filter(events, lambda e: (e["pos"] > entry["pos"]) & (e["us"] <= end))
    start = F.array(entry["us"], *[F.lit(None).cast("long")] * (n - 1))
    held_ok = (lambda e: e[h].eqNullSafe(entry[h])) if f.hold_constant else (lambda e: F.lit(True))

    def reached(at: Column, step: int) -> Column:
        # the step and every step before it are matched (in ordered modes: the step is matched)
        return F.forall(F.slice(at, 1, step), lambda t: t.isNotNull())

    def excluded(e: Column, at: Column) -> Column:
        # an exclusion applies once step i is reached and until step j is
        hit = F.lit(False)
        for k, ex in enumerate(f.exclusions):
            a, b = f.exclusion_span(ex)
            hit = hit | (e[x][k] & reached(at, a) & ~reached(at, b))
        return hit

    def set_at(at: Column, step: Column, us: Column) -> Column:
        return F.transform(at, lambda v, j: F.when(j + 1 == step, us).otherwise(v))

    if f.order == "any":
        def step_fn(acc, e):
            free = F.zip_with(e[m], acc["at"], lambda hit, t: hit & t.isNull())
            k = F.array_position(free, True).cast("int")
            return (F.when(acc["stop"], acc)
                    .when((k > 0) & held_ok(e), F.struct(set_at(acc["at"], k, e["us"]).alias("at"),
                                                         F.lit(False).alias("stop")))
                    .when(excluded(e, acc["at"]), F.struct(acc["at"].alias("at"), F.lit(True).alias("stop")))
                    .otherwise(acc))
    else:
        strict = f.order == "strict"

        def step_fn(acc, e):
            at = acc["at"]
            k = F.size(F.filter(at, lambda t: t.isNotNull())).cast("int")  # ordered: a prefix is matched
            nxt = k + 1
            hit = (k < n) & F.coalesce(F.try_element_at(e[m], nxt), F.lit(False)) & held_ok(e)
            stopped = F.struct(at.alias("at"), F.lit(True).alias("stop"))
            walk = (F.when(acc["stop"] | (k >= n), acc)
                    .when(hit, F.struct(set_at(at, nxt, e["us"]).alias("at"), F.lit(False).alias("stop")))
                    .when(excluded(e, at), stopped))
            # strict: any other event right after a matched step ends the walk
            return walk.otherwise(stopped if strict else acc)

    init = F.struct(start.alias("at"), F.lit(False).alias("stop"))
    return F.when(entry.isNotNull(), F.aggregate(after, init, step_fn)["at"])


def _reached_and_seconds(at: Column, n: int) -> tuple[Column, Column]:
    """Steps reached (the longest matched prefix) and, per step, seconds from entry to reaching it."""
    first_gap = F.array_position(F.transform(at, lambda t: t.isNull()), True)
    reached = F.when(at.isNull(), F.lit(0)).when(first_gap == 0, F.lit(n)).otherwise(first_gap - 1).cast("int")
    # in `any` order a step is reached once every step up to it is: the latest of them
    seconds = F.transform(at, lambda t, j: F.when(
        j < reached, (F.array_max(F.slice(at, 1, j + 1)) - at[0]).cast("double") / 1e6))
    return reached, seconds


def funnel_progress(journey_events: DataFrame, funnels: list[NamedFunnel]) -> DataFrame:
    """One row per journey with a relevant event and funnel: journey_id, funnel_name, n_reached
    (steps reached: 0 when the journey never enters) and seconds (per step, from the entry to
    reaching it; null when not reached)."""
    ev_fields = _event_fields(funnels)
    relevant = F.lit(True)
    if not any(f.order == "strict" for f in funnels):
        # strict funnels need every event (any event in between breaks them); otherwise only matches count
        relevant = F.lit(False)
        for f in funnels:
            for p in (*f.steps, *f.exclusions):
                relevant = relevant | predicate(p)
    events = (journey_events.where(relevant)
              .select("journey_id", F.struct(F.col("step_number").alias("pos"),
                                             F.unix_micros("event_at").alias("us"), *ev_fields).alias("e"))
              .groupBy("journey_id").agg(F.sort_array(F.collect_list("e")).alias("events"))
              # the entry once per journey, not once per element of the walk
              .withColumns({f"entry{i}": _entry(i, F.col("events")) for i in range(len(funnels))}))
    # separate projections: each walk runs once per journey (Spark does not inline a costly
    # expression into several places that use it)
    walked = events.select("journey_id", *[_walk(f, i, F.col("events"), F.col(f"entry{i}")).alias(f"at{i}")
                                           for i, f in enumerate(funnels)])
    per_funnel = []
    for i, f in enumerate(funnels):
        reached, seconds = _reached_and_seconds(F.col(f"at{i}"), len(f.steps))
        per_funnel.append(F.struct(F.lit(f.name).alias("funnel_name"), reached.alias("n_reached"),
                                   seconds.alias("seconds")))
    return walked.select("journey_id", F.explode(F.array(*per_funnel)).alias("r")).select("journey_id", "r.*")


def funnel_results(journeys: DataFrame, journey_events: DataFrame, funnels: list[NamedFunnel]) -> DataFrame:
    """One row per journey_start_date x funnel x unit (journey | customer) x breakdown x value x step."""
    check_unique_names(funnels)
    spark = journeys.sparkSession
    if not funnels:
        return spark.createDataFrame([], _schema())

    walked = funnel_progress(journey_events, funnels)

    # every journey of the input is in the population of every funnel, entered or not
    no_times = F.array(*[F.struct(F.lit(f.name).alias("funnel_name"),
                                  F.array_repeat(F.lit(None).cast("double"), len(f.steps)).alias("no_times"))
                         for f in funnels])
    # joined per journey and funnel, then multiplied by the breakdowns: the join shuffles a
    # fifth of the rows it would after the breakdowns
    per_journey = with_breakdowns(
        journeys.select("journey_id", "customer_key", "started_at", "journey_start_date", "segment", "region",
                        "first_touch_channel", "first_touch_device")
        .withColumn("_f", F.explode(no_times)).select("*", "_f.*").drop("_f")
        .join(walked, ["journey_id", "funnel_name"], how="left")
        .withColumn("n_reached", F.coalesce("n_reached", F.lit(0)))
        .withColumn("seconds", F.coalesce("seconds", "no_times")))
    keys = ["journey_start_date", "funnel_name", "breakdown", "breakdown_value"]
    # a customer counts once per start date at the furthest step any of that day's journeys reached
    # (ties: the earliest journey), with that journey's times. Both units come out of one
    # aggregate per customer: a union of the journey rows and that aggregate computed the walk,
    # the join and the breakdowns twice
    unit = F.struct("n_reached", "seconds")
    best = F.min_by(unit, F.struct(-F.col("n_reached"), F.col("started_at"), F.col("journey_id")))
    both = F.concat(F.transform("_journeys", lambda u: F.struct(F.lit("journey").alias("unit"), u.alias("u"))),
                    F.array(F.struct(F.lit("customer").alias("unit"), F.col("_best").alias("u"))))
    units = (per_journey.groupBy(*keys, "customer_key").agg(F.collect_list(unit).alias("_journeys"),
                                                            best.alias("_best"))
             .select(*keys, F.inline(both))
             .select(*keys, "unit", "u.n_reached", "u.seconds"))

    # One row per unit for its population (step 0) and one per step it reached, with its time: a
    # row per unit and step made the aggregate with the percentiles several times larger, and most
    # units never enter. A step's row count is then the units that reached it.
    sec = F.col("sec")
    rows = F.transform(F.sequence(F.lit(0), F.col("n_reached")),
                       lambda i: F.struct(i.alias("step"), F.get(F.col("seconds"), i - 1).alias("sec")))
    per_step = (units.select(*keys, "unit", F.inline(rows))
                .groupBy(*keys, "unit", "step").agg(
                    F.count(F.lit(1)).cast("long").alias("units"),
                    # a sum of doubles depends on the order Spark adds them in, which differs between
                    # local mode and a cluster: summed exactly (times have microsecond precision), then divided
                    F.avg(sec.cast("decimal(24,6)")).cast("double").alias("mean"),
                    # both percentiles from one buffer of values
                    F.percentile(sec, F.array(F.lit(0.5), F.lit(0.9))).alias("percentiles")))
    size = F.create_map(*[c for f in funnels for c in (F.lit(f.name), F.lit(len(f.steps)))])
    by_step = F.col("_by_step")

    def reaching(step: Column) -> Column:
        return F.coalesce(by_step[step]["units"], F.lit(0).cast("long"))

    grouped = (per_step.groupBy(*keys, "unit")
               .agg(F.map_from_entries(F.collect_list(F.struct("step", F.struct("units", "mean", "percentiles"))))
                    .alias("_by_step"))
               .select("*", F.explode(F.sequence(F.lit(1), size[F.col("funnel_name")])).alias("step"))
               .select(*keys, "unit", "step", reaching(F.lit(0)).alias("population"),
                       reaching(F.lit(1)).alias("entered"), reaching(F.col("step")).alias("reached"),
                       reaching(F.greatest(F.col("step") - 1, F.lit(1))).alias("previous_step_reached"),
                       by_step[F.col("step")]["mean"].alias("mean_seconds_from_entry"),
                       by_step[F.col("step")]["percentiles"][0].alias("median_seconds_from_entry"),
                       by_step[F.col("step")]["percentiles"][1].alias("p90_seconds_from_entry")))
    names = F.create_map(*[c for f in funnels for c in (F.lit(f.name), F.array(*[F.lit(s) for s in f.step_names]))])

    def rate(num: str, den: str) -> Column:
        return F.when(F.col(den) > 0, F.col(num) / F.col(den)).cast("double")   # null, not NaN

    return grouped.withColumn("step_name", F.element_at(names[F.col("funnel_name")], F.col("step"))).select(
        *COLUMNS[:11],
        rate("reached", "entered").alias("conversion_rate_from_start"),
        rate("reached", "previous_step_reached").alias("conversion_rate_from_previous"),
        *COLUMNS[13:],
    ).select(*COLUMNS)


def _schema():
    from jobs.contracts import table_contract
    return table_contract("funnel_results").spark_schema()
