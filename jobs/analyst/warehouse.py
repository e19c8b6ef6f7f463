"""DuckDB over the published tables: one view per table, typed from its contract in `schemas/`.

Analysts' side only (the report, `journeys sql`): the pipeline itself never reads through here.
Each view selects the contract's columns in contract order with explicit casts, so a query
sees the documented types whatever Parquet or Hive partition folders would suggest, and a
table not written yet is an empty view with the same columns rather than a missing name.
Spark writes timestamps as UTC instants; the connection's time zone is UTC, so they read
back as the naive UTC values every `<event>_at` column holds.
"""
from __future__ import annotations

import re
from pathlib import Path

from jobs.contracts import Contract, all_contracts
from jobs.storage import table_path

_SCALARS = {"integer": "INTEGER", "long": "BIGINT", "double": "DOUBLE", "string": "VARCHAR",
            "boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "date": "DATE"}


def duck_type(spark_type: str) -> str:
    """A contract's Spark type string as a DuckDB type."""
    t = spark_type.strip().lower()
    if t in _SCALARS:
        return _SCALARS[t]
    if m := re.fullmatch(r"array<(.+)>", t):
        return f"{duck_type(m.group(1))}[]"
    if m := re.fullmatch(r"map<([^,<>]+),(.+)>", t):
        return f"MAP({duck_type(m.group(1))}, {duck_type(m.group(2))})"
    raise ValueError(f"no DuckDB type for contract type {spark_type!r}")


def tables(include_restricted: bool = False) -> dict[str, Contract]:
    """Published tables by name; `quarantine` holds raw personal data and is left out unless asked."""
    return {name: c for (kind, name), c in sorted(all_contracts().items())
            if kind == "table" and (include_restricted or not c.restricted)}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def view_sql(warehouse: str, contract: Contract) -> str:
    """CREATE VIEW for one table: its Parquet files, or an empty relation when it has none yet."""
    root = Path(table_path(warehouse, contract.name))
    cols = [(c.name, duck_type(c.type)) for c in contract.columns]
    if any(root.rglob("*.parquet")):
        glob = str(root / "**" / "*.parquet").replace("'", "''")
        select = ", ".join(f"CAST({_quote(n)} AS {t}) AS {_quote(n)}" for n, t in cols)
        source = f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
        return f"CREATE OR REPLACE VIEW {_quote(contract.name)} AS SELECT {select} FROM {source}"
    select = ", ".join(f"CAST(NULL AS {t}) AS {_quote(n)}" for n, t in cols)
    return f"CREATE OR REPLACE VIEW {_quote(contract.name)} AS SELECT {select} WHERE false"


def connect(warehouse: str, *, include_restricted: bool = False, database: str = ":memory:"):
    """A DuckDB connection with a view per published table of `warehouse` (a local folder)."""
    import duckdb

    if not Path(warehouse).is_dir():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `journeys run` or `journeys demo` first")
    con = duckdb.connect(database)
    con.execute("SET TimeZone = 'UTC'")
    for contract in tables(include_restricted).values():
        con.execute(view_sql(warehouse, contract))
    return con
