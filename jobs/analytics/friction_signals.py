"""Friction signals: one row per occurrence, detected per journey from the journey's complete
events (docs/friction.md). Signals that look across events (escalation to a call, repeat
contact) look only inside the journey, so recomputing one journey start date gives exactly
what a full rebuild gives.

Every signal is a rule on one event (the event the occurrence is attributed to), computed as
a flag and a detail column in one pass over the events; the flagged (signal, detail) pairs are
then exploded into rows. One pass keeps the plan small: a union of twelve branches would
repeat the windows twelve times."""
from __future__ import annotations

from typing import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.analytics.friction_config import FrictionConfig
from jobs.contracts import table_contract

NO_STAGE = "(none)"
SIGNALS = ("error_event", "rage_click", "loop", "stall", "dead_end", "escalation_to_call", "repeat_contact",
           "long_queue_wait", "abandoned_call", "multiple_transfers", "complaint", "low_survey_score")
_MICROS_PER_SECOND = 1_000_000
_SESSION = ["journey_id", "session_id"]
# what the rules read: the windows shuffle and sort every column they carry, so the rest
# (campaign fields, amounts, most attributes) is left out before them
_RULE_COLUMNS = ("journey_id", "customer_key", "session_id", "step_number", "event_id", "stage", "is_conversion",
                 "channel", "event_type", "touchpoint", "event_at", "page_path", "element_id", "nps_score",
                 "ces_score")
_RULE_ATTRIBUTES = ("wait_seconds", "transfers", "disposition", "category")

# a rule adds the columns it needs and returns (frame, flag, detail)
Rule = Callable[[DataFrame], tuple[DataFrame, Column, Column]]


def _seconds_between(later: Column, earlier: Column) -> Column:
    return (F.unix_micros(later) - F.unix_micros(earlier)).cast("double") / _MICROS_PER_SECOND


def _isin(column: str, values: list[str]) -> Column:
    return F.col(column).isin(values) if values else F.lit(False)


def _in_order(*partition: str) -> Window:
    return Window.partitionBy(*partition).orderBy("step_number")


def _attribute(name: str, cast: str) -> Column:
    # attributes are source text: junk becomes null instead of failing the job
    return F.expr(f"try_cast(attributes['{name}'] as {cast})")


def attributed_events(journeys: DataFrame, journey_events: DataFrame, friction: FrictionConfig) -> DataFrame:
    """The journeys' events with journey_start_date and the stage friction is attributed to:
    the event's stage or, with inherit_stage, that of the journey's latest earlier staged
    event (calls and CRM events match no stage rule); `(none)` when there is none."""
    return _with_start_dates(journeys, journey_events).withColumn("stage", _attributed_stage(friction))


def _with_start_dates(journeys: DataFrame, journey_events: DataFrame) -> DataFrame:
    return journey_events.join(journeys.select("journey_id", "journey_start_date"), on="journey_id", how="inner")


def _attributed_stage(friction: FrictionConfig) -> Column:
    stage = F.col("stage")
    if friction.inherit_stage:
        upto_here = _in_order("journey_id").rowsBetween(Window.unboundedPreceding, Window.currentRow)
        stage = F.last("stage", ignorenulls=True).over(upto_here)
    return F.coalesce(stage, F.lit(NO_STAGE))


def _common(ev: DataFrame, friction: FrictionConfig, error_event_types: list[str]) -> DataFrame:
    session, whole_session = _in_order(*_SESSION), Window.partitionBy(*_SESSION)
    return (ev
            .withColumn("_is_error", _isin("event_type", error_event_types))
            .withColumn("_is_call", _isin("event_type", friction.call_event_types))
            .withColumn("_gap", _seconds_between(F.lead("event_at", 1).over(session), F.col("event_at")))
            .withColumn("_is_session_last", F.lead("step_number", 1).over(session).isNull())
            .withColumn("_is_session_second_last",
                        F.lead("step_number", 2).over(session).isNull() & ~F.col("_is_session_last"))
            .withColumn("_session_end_at", F.max("event_at").over(whole_session))
            .withColumn("_session_converted", F.max(F.col("is_conversion").cast("int")).over(whole_session) == 1))


def _error_event(cfg) -> Rule:
    return lambda df: (df, F.col("_is_error"), F.concat_ws(" on ", "event_type", "touchpoint"))


def _rage_click(cfg) -> Rule:
    def rule(df):
        session = _in_order(*_SESSION)
        is_click = _isin("event_type", cfg.event_types) & F.col("element_id").isNotNull()
        # a burst: clicks on one element with no other event between them, each strictly < max gap;
        # any other event is a burst of its own
        continues = (is_click & F.lag(is_click, 1).over(session)
                     & (F.lag("element_id", 1).over(session) == F.col("element_id"))
                     & (_seconds_between(F.col("event_at"), F.lag("event_at", 1).over(session))
                        < cfg.max_gap_seconds))
        starts = F.when(F.coalesce(continues, F.lit(False)), 0).otherwise(1)
        df = (df.withColumn("_rc_click", is_click)
              .withColumn("_rc_burst", F.sum(starts).over(session.rowsBetween(Window.unboundedPreceding, 0))))
        burst = Window.partitionBy(*_SESSION, "_rc_burst")
        df = (df.withColumn("_rc_nth", F.row_number().over(burst.orderBy("step_number")))
              .withColumn("_rc_size", F.count("*").over(burst))
              .withColumn("_rc_span", _seconds_between(F.max("event_at").over(burst), F.min("event_at").over(burst))))
        flag = F.col("_rc_click") & (F.col("_rc_nth") == cfg.min_clicks)
        return df, flag, F.format_string("%d clicks on %s in %.1f s", "_rc_size", "element_id", "_rc_span")
    return rule


def _loop(cfg) -> Rule:
    def rule(df):
        # visits are ordered among themselves: partitioning by the visit flag keeps other events out
        is_visit = F.when(F.col("page_path").isNotNull(), _isin("event_type", cfg.visit_event_types)) \
            .otherwise(F.lit(True))
        df = (df.withColumn("_lp_visit", is_visit)
              .withColumn("_lp_step", F.coalesce(F.col("page_path"), F.col("touchpoint"))))
        visits = _in_order(*_SESSION, "_lp_visit")
        same_step = _in_order(*_SESSION, "_lp_visit", "_lp_step")
        back = F.lit(False)
        if cfg.detect_back_and_forth:
            back = F.coalesce((F.lag("_lp_step", 2).over(visits) == F.col("_lp_step"))
                              & (F.lag("_lp_step", 1).over(visits) != F.col("_lp_step")), F.lit(False))
        df = (df.withColumn("_lp_by_count", F.col("_lp_visit") & (F.row_number().over(same_step) == cfg.min_visits))
              .withColumn("_lp_back", F.col("_lp_visit") & back)
              .withColumn("_lp_from", F.lag("_lp_step", 1).over(visits)))
        # one loop per session and step: its first sign
        first_sign = F.min(F.when(F.col("_lp_by_count") | F.col("_lp_back"), F.col("step_number"))).over(
            Window.partitionBy(*_SESSION, "_lp_visit", "_lp_step"))
        flag = F.coalesce(F.col("step_number") == first_sign, F.lit(False))
        detail = F.when(F.col("_lp_by_count"), F.format_string("%s visited %d times in the session",
                                                               F.col("_lp_step"), F.lit(cfg.min_visits))) \
            .otherwise(F.format_string("back to %s after %s", F.col("_lp_step"), F.col("_lp_from")))
        return df, flag, detail
    return rule


def _stall(cfg) -> Rule:
    def rule(df):
        # the time spent at an event before the session's next one; the percentile is taken per
        # start date, so a night's answer for a date does not depend on the other dates it recomputes
        # (exact percentile, linear interpolation). An aggregate joined back by broadcast, not a
        # window: a window by (date, touchpoint) shuffled every event away from its journey and back
        key = ["journey_start_date", "touchpoint"]
        limits = (df.groupBy(*key)
                  .agg(F.count("_gap").alias("_st_samples"), F.percentile("_gap", cfg.percentile).alias("_st_p"))
                  .select(*[F.col(k).alias(f"_st_{k}") for k in key], F.when(
                      F.col("_st_samples") >= cfg.min_samples,
                      F.greatest(F.col("_st_p"), F.lit(cfg.min_gap_seconds)))
                      .otherwise(F.lit(cfg.min_gap_seconds)).alias("_st_limit")))
        same_key = F.col("journey_start_date").eqNullSafe(F.col("_st_journey_start_date")) \
            & F.col("touchpoint").eqNullSafe(F.col("_st_touchpoint"))
        df = df.join(F.broadcast(limits), same_key, "left").drop(*[f"_st_{k}" for k in key])
        flag = F.col("_is_session_second_last") & F.coalesce(F.col("_gap") > F.col("_st_limit"), F.lit(False))
        return df, flag, F.format_string("%.0f s at %s before exit (limit %.0f s)", "_gap", "touchpoint", "_st_limit")
    return rule


def _dead_end(cfg) -> Rule:
    return lambda df: (df, F.col("_is_error") & F.col("_is_session_last"),
                       F.format_string("session ended after %s", F.col("event_type")))


def _escalation(cfg) -> Rule:
    def rule(df):
        before = _in_order("journey_id").rowsBetween(Window.unboundedPreceding, -1)
        session = F.struct(F.col("_session_end_at").alias("end_at"), F.col("_session_converted").alias("converted"),
                           F.col("touchpoint").alias("touchpoint"), F.col("channel").alias("channel"))
        # the latest digital session before the call; a call made while it goes on is not after its end
        df = (df.withColumn("_es_prev", F.last(F.when(_isin("channel", cfg.digital_channels), session),
                                               ignorenulls=True).over(before))
              .withColumn("_es_hours", _seconds_between(F.col("event_at"), F.col("_es_prev.end_at")) / 3600.0))
        flag = F.coalesce(F.col("_is_call") & ~F.col("_es_prev.converted") & (F.col("_es_hours") >= 0)
                          & (F.col("_es_hours") <= cfg.escalation_hours), F.lit(False))
        return df, flag, F.format_string("call %.1f h after a %s session that ended on %s",
                                         "_es_hours", "_es_prev.channel", "_es_prev.touchpoint")
    return rule


def _repeat_contact(cfg) -> Rule:
    def rule(df):
        calls = _in_order("journey_id", "_is_call")
        df = (df.withColumn("_rp_next", F.lead(F.struct("event_at", "touchpoint"), 1).over(calls))
              .withColumn("_rp_hours", _seconds_between(F.col("_rp_next.event_at"), F.col("event_at")) / 3600.0))
        flag = F.col("_is_call") & F.coalesce(F.col("_rp_hours") <= cfg.repeat_contact_days * 24.0, F.lit(False))
        return df, flag, F.format_string("called again %.1f h later (%s)", "_rp_hours", "_rp_next.touchpoint")
    return rule


def _long_queue_wait(cfg) -> Rule:
    def rule(df):
        df = df.withColumn("_lw_wait", _attribute("wait_seconds", "double"))
        flag = F.col("_is_call") & F.coalesce(F.col("_lw_wait") > cfg.long_wait_seconds, F.lit(False))
        return df, flag, F.format_string("waited %.0f s in %s", "_lw_wait", "touchpoint")
    return rule


def _abandoned_call(cfg) -> Rule:
    def rule(df):
        disposition = F.lower(F.trim(F.col("attributes")["disposition"]))
        flag = F.col("_is_call") & F.coalesce(disposition.isin([d.lower() for d in cfg.dispositions]), F.lit(False))
        wait = _attribute("wait_seconds", "double")
        detail = F.concat(F.lit("abandoned in "), F.col("touchpoint"),
                          F.when(wait.isNotNull(), F.format_string(" after %.0f s", wait)).otherwise(F.lit("")))
        return df, flag, detail
    return rule


def _multiple_transfers(cfg) -> Rule:
    def rule(df):
        df = df.withColumn("_mt_transfers", _attribute("transfers", "int"))
        flag = F.col("_is_call") & F.coalesce(F.col("_mt_transfers") >= cfg.min_transfers, F.lit(False))
        return df, flag, F.format_string("%d transfers", "_mt_transfers")
    return rule


def _complaint(cfg) -> Rule:
    category = F.coalesce(F.col("attributes")["category"], F.lit("no category"))
    return lambda df: (df, _isin("event_type", cfg.event_types), F.concat(F.col("event_type"), F.lit(": "), category))


def _low_survey_score(cfg) -> Rule:
    low_nps = F.coalesce(F.col("nps_score").between(0, cfg.nps_max), F.lit(False))
    low_ces = F.coalesce(F.col("ces_score").between(1, cfg.ces_max), F.lit(False))
    detail = F.concat_ws(", ", F.when(low_nps, F.format_string("nps %d", "nps_score")),
                         F.when(low_ces, F.format_string("ces %d", "ces_score")))
    return lambda df: (df, low_nps | low_ces, detail)


# escalation last: its window (journey order) then sits next to the attributed stage's
_APPLY_ORDER = tuple(n for n in SIGNALS if n != "escalation_to_call") + ("escalation_to_call",)

RULES = {
    "error_event": _error_event, "rage_click": _rage_click, "loop": _loop, "stall": _stall,
    "dead_end": _dead_end, "escalation_to_call": _escalation, "repeat_contact": _repeat_contact,
    "long_queue_wait": _long_queue_wait, "abandoned_call": _abandoned_call,
    "multiple_transfers": _multiple_transfers, "complaint": _complaint, "low_survey_score": _low_survey_score,
}


def friction_occurrences(journeys: DataFrame, journey_events: DataFrame, friction: FrictionConfig,
                         error_event_types: list[str]) -> DataFrame:
    """One row per detected occurrence (grain: journey_id x signal x event_id), with the event
    it is attributed to, its touchpoint, stage, time and a short detail."""
    narrow = journey_events.select(*_RULE_COLUMNS, F.map_filter(
        "attributes", lambda k, v: k.isin(list(_RULE_ATTRIBUTES))).alias("attributes"))
    # every window below is partitioned by the journey or finer: one shuffle by journey serves them all
    df = _common(_with_start_dates(journeys, narrow).repartition("journey_id"), friction, list(error_event_types))
    found = []
    for name in _APPLY_ORDER:
        settings = getattr(friction.signals, name)
        if settings.enabled:
            df, flag, detail = RULES[name](settings)(df)
            # materialised first: window expressions cannot sit inside the generator below
            df = df.withColumn(f"_hit_{name}", F.when(flag, F.struct(F.lit(name).alias("signal"),
                                                                     detail.alias("detail"))))
            found.append(F.col(f"_hit_{name}"))
    # no rule reads the stage: taken last, right after the escalation rule, its window shares
    # that rule's journey-order sort instead of needing a sort of its own
    df = df.withColumn("stage", _attributed_stage(friction))
    hits = F.filter(F.array(*found), lambda x: x.isNotNull()) if found \
        else F.array().cast("array<struct<signal:string,detail:string>>")
    df = df.select("*", F.explode(hits).alias("_hit")).withColumnRenamed("event_at", "occurred_at")
    df = df.withColumn("signal", F.col("_hit.signal")).withColumn("detail", F.col("_hit.detail"))
    return df.select(*[F.col(c.name).cast(c.type).alias(c.name)
                       for c in table_contract("friction_occurrences").columns])
