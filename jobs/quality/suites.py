"""Great Expectations suites for the raw sources (SPEC 2, 3.2).

A suite is generated from the source's contract (``schemas/raw/<name>.yaml``) and
extended with the semantic checks kept in ``expectations/<name>.yaml``. See
``docs/validation.md`` for the rules and the YAML format.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .thresholds import QualityThresholds

SEVERITIES = ("critical", "warning")

#: The folder that holds the semantic YAML suites (``expectations/`` at the repo root).
EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
#: The folder that holds the raw-source contracts.
RAW_CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "raw"

# kwargs of GX expectations that name columns of the batch
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list",)

# row_condition operators of the YAML format -> GX 1.x Condition builders
_OPS = {
    "==": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
    "in": lambda c, v: c.is_in(v),
    "not_in": lambda c, v: c.is_not_in(v),
    "is_null": lambda c, v: c.is_null(),
    "is_not_null": lambda c, v: c.is_not_null(),
}


class SuiteConfigError(ValueError):
    """A contract or semantic YAML suite that cannot be turned into expectations."""


# --------------------------------------------------------------------------- loading


def load_contract(name_or_path: str | Path) -> dict:
    """Load a raw contract by source name (``"call_logs"``) or by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = RAW_CONTRACTS_DIR / f"{name_or_path}.yaml"
    with open(path, encoding="utf-8") as fh:
        contract = yaml.safe_load(fh)
    if not isinstance(contract, dict) or "name" not in contract or "columns" not in contract:
        raise SuiteConfigError(f"{path}: not a contract (needs 'name' and 'columns')")
    return contract


def load_semantic(source_name: str, directory: str | Path | None = None) -> dict | None:
    """Load ``expectations/<source_name>.yaml``; None when the source has none."""
    path = Path(directory or EXPECTATIONS_DIR) / f"{source_name}.yaml"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as fh:
        semantic = yaml.safe_load(fh) or {}
    if not isinstance(semantic, dict):
        raise SuiteConfigError(f"{path}: expected a mapping with an 'expectations' list")
    semantic.setdefault("source", source_name)
    if semantic["source"] != source_name:
        raise SuiteConfigError(f"{path}: 'source' is {semantic['source']!r}, expected {source_name!r}")
    return semantic


# --------------------------------------------------------------------------- contract helpers


def suite_name_for(contract: Mapping[str, Any]) -> str:
    """The suite of a raw source is named after the source (``call_logs``)."""
    return str(contract["name"])


def pii_columns(contract: Mapping[str, Any]) -> list[str]:
    return [c["name"] for c in contract["columns"] if c.get("pii")]


def validated_columns(contract: Mapping[str, Any]) -> list[str]:
    """Columns GX may see: every contract column that is not PII, in contract order."""
    return [c["name"] for c in contract["columns"] if not c.get("pii")]


def _severity(value: Any, where: str) -> str:
    severity = "critical" if value is None else str(value).lower()
    if severity not in SEVERITIES:
        raise SuiteConfigError(f"{where}: severity must be one of {SEVERITIES}, got {value!r}")
    return severity


# --------------------------------------------------------------------------- building


def _gx():
    import great_expectations as gx  # imported lazily: importing GX takes a second

    return gx


def _make(
    expectation_type: str,
    kwargs: Mapping[str, Any],
    *,
    severity: str,
    meta: Mapping[str, Any],
    thresholds: QualityThresholds,
    notes: str | None = None,
    where: str,
):
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        cls = get_expectation_impl(expectation_type)
    except Exception as exc:  # ExpectationNotFoundError
        raise SuiteConfigError(f"{where}: unknown expectation type {expectation_type!r}") from exc
    kw = dict(kwargs)
    if "mostly" in getattr(cls, "__fields__", {}) and "mostly" not in kw:
        kw["mostly"] = thresholds.mostly_for(severity)
    try:
        return cls(**kw, severity=severity, meta=dict(meta), notes=notes)
    except Exception as exc:  # pydantic validation errors
        raise SuiteConfigError(f"{where}: invalid {expectation_type} {dict(kwargs)!r}: {exc}") from exc


def _row_condition(spec: Any, where: str):
    """YAML row_condition (a mapping or a list of mappings, AND-ed) -> GX Condition."""
    from great_expectations.expectations.row_conditions import (
        AndCondition,
        Column,
        deserialize_row_condition,
    )

    if spec is None:
        return None
    if isinstance(spec, Mapping) and "type" in spec:  # GX's own serialised form
        return deserialize_row_condition(dict(spec))
    items = spec if isinstance(spec, list) else [spec]
    conditions = []
    for item in items:
        if not isinstance(item, Mapping) or "column" not in item:
            raise SuiteConfigError(f"{where}: row_condition items need 'column', 'op' and usually 'value'")
        op = str(item.get("op", "==")).lower()
        if op not in _OPS:
            raise SuiteConfigError(f"{where}: row_condition op {op!r} is not one of {sorted(_OPS)}")
        if op not in ("is_null", "is_not_null") and "value" not in item:
            raise SuiteConfigError(f"{where}: row_condition op {op!r} needs a 'value'")
        conditions.append(_OPS[op](Column(str(item["column"])), item.get("value")))
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else AndCondition(conditions=conditions)


def _condition_columns(spec: Any) -> list[str]:
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    out = []
    for item in items:
        if isinstance(item, Mapping) and "column" in item:
            col = item["column"]
            out.append(col["name"] if isinstance(col, Mapping) else str(col))
    return out


def _referenced_columns(kwargs: Mapping[str, Any], row_condition: Any) -> list[str]:
    cols: list[str] = []
    for key in _COLUMN_KWARGS:
        if key in kwargs:
            cols.append(str(kwargs[key]))
    for key in _COLUMN_LIST_KWARGS:
        cols.extend(str(c) for c in kwargs.get(key) or [])
    cols.extend(_condition_columns(row_condition))
    return cols


def contract_expectation_specs(contract: Mapping[str, Any], thresholds: QualityThresholds) -> list[dict]:
    """The checks a contract implies, as plain dicts (type, kwargs, severity, meta)."""
    name = contract["name"]
    specs: list[dict] = [
        {
            "type": "expect_table_columns_to_match_set",
            "kwargs": {"column_set": validated_columns(contract), "exact_match": False},
            "severity": "critical",
            "meta": {"origin": "contract", "rule": "columns"},
        }
    ]
    for col in contract["columns"]:
        if col.get("pii"):
            continue  # GX must never see raw PII: results keep unexpected values
        cname = col["name"]
        where = f"contract {name}, column {cname}"
        severity = _severity(col.get("severity"), where)
        ctype = col.get("type", "string")

        def add(etype: str, rule: str, **kwargs: Any) -> None:
            specs.append(
                {
                    "type": etype,
                    "kwargs": {"column": cname, **kwargs},
                    "severity": severity,
                    "meta": {"origin": "contract", "rule": rule},
                }
            )

        if col.get("required"):
            add("expect_column_values_to_not_be_null", "required")
        if col.get("allowed_values") is not None:
            add("expect_column_values_to_be_in_set", "allowed_values", value_set=list(col["allowed_values"]))
        if col.get("pattern") is not None:
            add("expect_column_values_to_match_regex", "pattern", regex=str(col["pattern"]))
        if col.get("min") is not None or col.get("max") is not None:
            bounds = {}
            if col.get("min") is not None:
                bounds["min_value"] = col["min"]
            if col.get("max") is not None:
                bounds["max_value"] = col["max"]
            add("expect_column_values_to_be_between", "range", **bounds)
        # device clocks may be off by any amount; the pipeline bounds the skew-corrected time instead
        if ctype == "timestamp" and col.get("clock") != "device":
            add(
                "expect_column_values_to_be_between",
                "timestamp_range",
                min_value=thresholds.min_timestamp,
                max_value=thresholds.max_timestamp,
            )
    return specs


def semantic_expectation_specs(contract: Mapping[str, Any], semantic: Mapping[str, Any] | None) -> list[dict]:
    """Check and normalise the entries of a semantic YAML suite."""
    if not semantic:
        return []
    name = contract["name"]
    entries = semantic.get("expectations") or []
    if not isinstance(entries, list):
        raise SuiteConfigError(f"semantic suite {name}: 'expectations' must be a list")
    known = set(validated_columns(contract))
    pii = set(pii_columns(contract))
    specs = []
    for i, entry in enumerate(entries):
        where = f"semantic suite {name}, expectation #{i + 1}"
        if not isinstance(entry, Mapping) or "type" not in entry:
            raise SuiteConfigError(f"{where}: each entry needs a 'type'")
        unknown_keys = set(entry) - {"type", "kwargs", "severity", "description", "row_condition"}
        if unknown_keys:
            raise SuiteConfigError(f"{where}: unknown keys {sorted(unknown_keys)}")
        kwargs = dict(entry.get("kwargs") or {})
        if "row_condition" in kwargs or "condition_parser" in kwargs:
            raise SuiteConfigError(f"{where}: put row_condition next to kwargs, not inside them")
        severity = _severity(entry.get("severity"), where)
        for col in _referenced_columns(kwargs, entry.get("row_condition")):
            if col in pii:
                raise SuiteConfigError(f"{where}: column {col!r} is PII and is never validated by GX")
            if col not in known:
                raise SuiteConfigError(f"{where}: column {col!r} is not in contract {name}")
        specs.append(
            {
                "type": str(entry["type"]),
                "kwargs": kwargs,
                "severity": severity,
                "row_condition": entry.get("row_condition"),
                "description": entry.get("description"),
                "meta": {"origin": "semantic", "rule": f"semantic#{i + 1}"},
            }
        )
    return specs


def build_suite(
    contract: Mapping[str, Any],
    semantic: Mapping[str, Any] | None,
    thresholds: QualityThresholds,
):
    """Build the GX ``ExpectationSuite`` for one raw source.

    Contract checks per non-PII column: ``required`` -> not null, ``allowed_values`` ->
    in set, ``pattern`` -> match regex, ``min``/``max`` -> between, timestamp -> between
    ``thresholds.min_timestamp`` and ``thresholds.max_timestamp``; plus one schema check
    (the frame holds every non-PII contract column). Then the semantic checks.

    Every expectation carries GX's own ``severity`` field (critical | warning) and, when
    its type supports it and the YAML did not set it, ``mostly`` = 1 - max_bad_fraction
    (critical) or 1 - max_warning_fraction (warning). ``meta.origin`` says where it
    came from (contract | semantic).
    """
    expectations = []
    for spec in contract_expectation_specs(contract, thresholds):
        expectations.append(
            _make(
                spec["type"],
                spec["kwargs"],
                severity=spec["severity"],
                meta=spec["meta"],
                thresholds=thresholds,
                where=f"contract {contract['name']}",
            )
        )
    for spec in semantic_expectation_specs(contract, semantic):
        where = f"semantic suite {contract['name']} ({spec['meta']['rule']})"
        kwargs = dict(spec["kwargs"])
        condition = _row_condition(copy.deepcopy(spec["row_condition"]), where)
        if condition is not None:
            kwargs["row_condition"] = condition
        meta = dict(spec["meta"])
        if spec.get("description"):
            meta["description"] = str(spec["description"])
        expectations.append(
            _make(
                spec["type"],
                kwargs,
                severity=spec["severity"],
                meta=meta,
                thresholds=thresholds,
                notes=spec.get("description"),
                where=where,
            )
        )
    # Built through the constructor: ExpectationSuite.add_expectation needs an active
    # Data Context in GX 1.x, the constructor does not.
    suite = _gx().ExpectationSuite(
        name=suite_name_for(contract),
        expectations=expectations,
        meta={
            "contract": contract["name"],
            "layer": contract.get("layer", "raw"),
            "generated_by": "jobs.quality",
            "thresholds": thresholds.to_dict(),
        },
    )
    if len(suite.expectations) != len(expectations):
        raise SuiteConfigError(f"suite {suite.name}: GX rejected some expectations (see the log)")
    return suite


def expectation_columns(kwargs: Mapping[str, Any]) -> list[str]:
    """Columns an expectation's kwargs name (for report lines)."""
    cols = [str(kwargs[k]) for k in _COLUMN_KWARGS if kwargs.get(k) is not None]
    for key in _COLUMN_LIST_KWARGS:
        cols.extend(str(c) for c in kwargs.get(key) or [])
    return cols


def iter_sources(directory: str | Path | None = None) -> Iterable[str]:
    """Names of the semantic suites kept in ``expectations/``."""
    for path in sorted(Path(directory or EXPECTATIONS_DIR).glob("*.yaml")):
        yield path.stem
