"""Table contracts: the YAML files in schemas/ are the single source of truth.

Readers take their explicit Spark schemas from here, the quality suites and the
output-schema tests are generated from here, and so is the data dictionary.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"

RAW_TYPES = {"string", "integer", "double", "timestamp", "json"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    required: bool = False
    pii: str | None = None
    pii_hash: str | None = None
    allowed_values: tuple[str, ...] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    severity: str = "critical"
    clock: str | None = None   # "device": a client clock, unbounded until skew-corrected


@dataclass(frozen=True)
class Contract:
    name: str
    layer: str
    description: str
    grain: str
    columns: tuple[Column, ...]
    format: str | None = None
    primary_key: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    restricted: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def spark_schema(self):
        """Explicit Spark schema of a canonical table, in contract order."""
        from pyspark.sql.types import StructField, StructType, _parse_datatype_string

        return StructType(
            [StructField(c.name, _parse_datatype_string(c.type), nullable=not c.required) for c in self.columns]
        )


def _parse(path: Path) -> Contract:
    doc = yaml.safe_load(path.read_text())
    cols = []
    for c in doc["columns"]:
        allowed = c.get("allowed_values")
        cols.append(
            Column(
                name=c["name"],
                type=c["type"],
                description=c.get("description", ""),
                required=bool(c.get("required", False)),
                pii=c.get("pii"),
                pii_hash=c.get("pii_hash"),
                allowed_values=tuple(str(v) for v in allowed) if allowed else None,
                pattern=c.get("pattern"),
                min=c.get("min"),
                max=c.get("max"),
                severity=c.get("severity", "critical"),
                clock=c.get("clock"),
            )
        )
    contract = Contract(
        name=doc["name"],
        layer=doc["layer"],
        description=" ".join(str(doc.get("description", "")).split()),
        grain=doc.get("grain", ""),
        columns=tuple(cols),
        format=doc.get("format"),
        primary_key=tuple(doc.get("primary_key", ())),
        partition_by=tuple(doc.get("partition_by", ())),
        restricted=bool(doc.get("restricted", False)),
        raw=doc,
    )
    if contract.layer == "raw":
        bad = [c.name for c in cols if c.type not in RAW_TYPES]
        if bad:
            raise ValueError(f"{path.name}: raw columns need one of {sorted(RAW_TYPES)}: {bad}")
    return contract


@lru_cache(maxsize=None)
def all_contracts() -> dict[tuple[str, str], Contract]:
    """Contracts keyed by (kind, name), kind being 'raw' or 'table': a raw source and
    the table built from it may share a name."""
    found = {}
    for path in sorted(SCHEMAS_DIR.rglob("*.yaml")):
        contract = _parse(path)
        key = ("raw" if contract.layer == "raw" else "table", contract.name)
        if key in found:
            raise ValueError(f"two {key[0]} contracts named {contract.name!r}")
        found[key] = contract
    return found


def raw_contract(name: str) -> Contract:
    return all_contracts()[("raw", name)]


def table_contract(name: str) -> Contract:
    return all_contracts()[("table", name)]
