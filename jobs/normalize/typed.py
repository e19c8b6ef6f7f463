"""Staged text columns -> typed columns, with the contract's checks deciding each row's fate.

After `apply_contract`, each contract column holds its typed value (null where the text
could not be read) and `_problem` holds the first failing check in catalog order.
"""
from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import Contract
from jobs.normalize.parse import PROBLEM, first_problem, problem

_OFFSET = r"(?i)(z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_INTEGER = r"^[+-]?[0-9]{1,10}$"
_DOUBLE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def parse_timestamp(text: Column, source_tz: str) -> Column:
    """UTC timestamp from ISO-8601 (offset or naive in source_tz) or epoch seconds/millis; else null.

    This runs on three columns of every event, so each form is recognised by its length or by a
    regex over a few characters: each `rlike` decodes its whole input into a Java string first.
    Spark's cast reads every offset form (`Z`, `+05`, `+0530`, `+05:30`) itself."""
    t = F.trim(text)
    n = F.length(t)
    return (
        F.when((n == 13) & t.rlike(r"^[0-9]{13}$"), F.timestamp_millis(t.cast("long")))
        .when((n == 10) & t.rlike(r"^[0-9]{10}$"), F.timestamp_seconds(t.cast("long")))
        # an offset is at most 6 characters at the end ("+05:30") and follows a time: a bare date
        # (10 characters) ends in "-05" too, and is a local date
        .when((n > 10) & F.substring(t, -6, 6).rlike(_OFFSET) & F.substring(t, 1, 5).rlike(r"^[0-9]{4}-"),
              t.try_cast("timestamp"))
        .when(t.rlike(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"),
              F.to_utc_timestamp(t.try_cast("timestamp"), source_tz))
    )


def apply_contract(staged: DataFrame, contract: Contract, source_tz: str,
                   min_ts: datetime, max_ts: datetime) -> DataFrame:
    """Type every contract column and record the first failing check in `_problem`.

    Two selects: the first types each column once, the second checks the typed values
    against their text. In one select every check repeated its column's parsing (Spark
    does not share work between the branches of a CASE), so a timestamp was parsed up to
    three times."""
    missing, types, stamps, ranges, values = [], [], [], [], []
    typed: dict[str, Column] = {}
    for col in contract.columns:
        name = col.name
        text, value = F.col(_text(name)), F.col(name)  # as the second select sees them
        source = F.col(name)                            # as the first select sees it
        if col.required:
            missing.append((text.isNull(), problem("MISSING_REQUIRED_FIELD", f"{name} is missing")))
        if col.type == "integer":
            # 32-bit like the typed column: a 10-digit value beyond it would otherwise become null unnoticed
            wide = F.when(source.rlike(_INTEGER), source.try_cast("long"))
            typed[name] = F.when(wide.between(-(2**31), 2**31 - 1), wide.cast("int"))
            types.append((text.isNotNull() & value.isNull(),
                          problem("INVALID_TYPE", F.concat(F.lit(f"{name} is not a 32-bit integer: "),
                                                           F.substring(text, 1, 40)))))
        elif col.type == "double":
            # finite only: "1e400" reads as Infinity, which no amount or score can be
            wide = F.when(source.rlike(_DOUBLE), source.try_cast("double"))
            typed[name] = F.when(~wide.isin(float("inf"), float("-inf")), wide)
            types.append((text.isNotNull() & value.isNull(),
                          problem("INVALID_TYPE", F.concat(F.lit(f"{name} is not a finite number: "),
                                                           F.substring(text, 1, 40)))))
        elif col.type == "timestamp":
            typed[name] = parse_timestamp(source, source_tz)
            stamps.append((text.isNotNull() & value.isNull(),
                           problem("INVALID_TIMESTAMP", F.concat(F.lit(f"{name} is not a timestamp: "),
                                                                 F.substring(text, 1, 40)))))
            if col.clock == "device":
                continue  # bounded after skew correction, in the canonical mapping
            ranges.append((value.isNotNull() & ~value.between(F.lit(min_ts), F.lit(max_ts)),
                           problem("TIMESTAMP_OUT_OF_RANGE",
                                   F.concat(F.lit(f"{name} "), F.substring(text, 1, 40),
                                            F.lit(f" is outside {min_ts:%Y-%m-%d}..{max_ts:%Y-%m-%d}")))))
        else:
            typed[name] = source
        if col.severity != "critical":
            continue  # warning-level rules are reported by the quality suite, not enforced per row
        if col.pattern:
            values.append((value.isNotNull() & ~value.rlike(col.pattern),
                           problem("INVALID_VALUE", F.concat(F.lit(f"{name} does not match {col.pattern}: "),
                                                             F.substring(value, 1, 40)))))
        if col.allowed_values:
            values.append((value.isNotNull() & ~value.isin(list(col.allowed_values)),
                           problem("INVALID_VALUE", F.concat(F.lit(f"{name} is not one of {list(col.allowed_values)}: "),
                                                             F.substring(value, 1, 40)))))
        if col.min is not None:
            values.append((value < col.min, problem("INVALID_VALUE", F.format_string(f"{name} %s is below {col.min}", value.cast("string")))))
        if col.max is not None:
            values.append((value > col.max, problem("INVALID_VALUE", F.format_string(f"{name} %s is above {col.max}", value.cast("string")))))

    checks = first_problem(*missing, *types, *stamps, *ranges, *values, prior=F.col(PROBLEM))
    others = [c for c in staged.columns if c not in typed and c != PROBLEM]
    first = staged.select(*others, PROBLEM, *[F.col(n).alias(_text(n)) for n in typed],
                          *[v.alias(n) for n, v in typed.items()])
    return first.select(*others, *typed, checks.alias(PROBLEM))


def _text(name: str) -> str:
    return f"_text_{name}"


def add_check(df: DataFrame, condition: Column, code: str, detail: Column | str) -> DataFrame:
    """Append a later-precedence check (source semantics) to `_problem`."""
    return df.withColumn(PROBLEM, first_problem((condition, problem(code, detail)), prior=F.col(PROBLEM)))
