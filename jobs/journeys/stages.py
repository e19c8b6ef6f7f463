"""Stage of each event from the ordered rule list in the config (first match wins)."""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.config import StageRule

INHERIT = "\u0000inherit"  # marker, replaced by the previous event's stage in sequence.py


def _matches(rule: StageRule) -> Column:
    cond = F.lit(True)
    for field, column in (("source", "source"), ("channel", "channel"), ("event_type", "event_type")):
        values = getattr(rule, field)
        if values is not None:
            cond = cond & F.col(column).isin(values)
    for field, column in (("page_path", "page_path"), ("touchpoint", "touchpoint")):
        pattern = getattr(rule, field)
        if pattern is not None:
            cond = cond & F.coalesce(F.col(column).rlike(f"^(?:{pattern})$"), F.lit(False))
    return cond


def raw_stage(rules: list[StageRule]) -> Column:
    """The first matching rule's stage, INHERIT for inheriting rules, null when none matches."""
    expr = F.lit(None).cast("string")
    for rule in reversed(rules):
        expr = F.when(_matches(rule), F.lit(INHERIT if rule.inherit else rule.stage)).otherwise(expr)
    return expr


def stage_order(stage: Column, stages: list[str]) -> Column:
    """1-based position of the stage in the funnel, null for no stage."""
    expr = F.lit(None).cast("int")
    for i, name in reversed(list(enumerate(stages, start=1))):
        expr = F.when(stage == name, F.lit(i)).otherwise(expr)
    return expr
