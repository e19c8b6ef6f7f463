"""What the warehouse holds after some runs: reconciliation per source, quarantine by reason,
the latest build's identity and journey figures, rows per table. Reads the Parquet tables with pyarrow (no Spark), so the demo and the
Airflow `report` task can print it in a second.

    python -m jobs.summary [--config FILE] [--date D ...] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date

import fsspec

from jobs.config import Config, ConfigError, load_config

COUNTS = ("rows_in", "rows_out", "rows_quarantined", "rows_duplicate", "rows_bot", "rows_late")
RUN_COLUMNS = ("run_id", "step", "source", "status", *COUNTS, "is_balanced", "quarantine_by_reason", "warnings",
               "finished_at", "run_date")


def _dataset(warehouse: str, table: str):
    import pyarrow.dataset as ds
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs, root = fsspec.core.url_to_fs(f"{warehouse.rstrip('/')}/{table}")
    if not fs.exists(root):
        return None
    return ds.dataset(root, filesystem=PyFileSystem(FSSpecHandler(fs)), format="parquet", partitioning="hive",
                      exclude_invalid_files=True)


def latest_runs(warehouse: str, dates: list[date] | None = None) -> list[dict]:
    """Rows of each date's latest succeeded normalize run (reruns replace a date, so only the last counts)."""
    dataset = _dataset(warehouse, "pipeline_runs")
    if dataset is None:
        return []
    names = [c for c in RUN_COLUMNS if c in dataset.schema.names]
    rows = dataset.to_table(columns=names).to_pylist()
    wanted = {d.isoformat() for d in dates} if dates else None
    last: dict[str, tuple] = {}
    for r in rows:
        day = str(r["run_date"])
        if r["step"] != "normalize" or r["status"] != "succeeded" or (wanted and day not in wanted):
            continue
        key = (r["finished_at"], r["run_id"])
        if day not in last or key > last[day]:
            last[day] = key
    chosen = {v[1] for v in last.values()}
    out = [r for r in rows if r["run_id"] in chosen and r["step"] == "normalize"]
    for r in out:
        r["run_date"] = str(r["run_date"])
        r["quarantine_by_reason"] = dict(r.get("quarantine_by_reason") or [])
    return sorted(out, key=lambda r: (r["run_date"], r["source"]))


def latest_build(warehouse: str, dates: list[date] | None = None) -> dict | None:
    """The figures of the latest succeeded build among the dates (the build of the last night
    describes the whole identity graph and the journeys it rewrote)."""
    dataset = _dataset(warehouse, "pipeline_runs")
    if dataset is None or "metrics" not in dataset.schema.names:
        return None
    rows = dataset.to_table(columns=["step", "status", "run_date", "finished_at", "rows_in", "metrics"]).to_pylist()
    wanted = {d.isoformat() for d in dates} if dates else None
    builds = [r for r in rows if r["step"] == "build" and r["status"] == "succeeded"
              and (wanted is None or str(r["run_date"]) in wanted)]
    if not builds:
        return None
    last = max(builds, key=lambda r: (str(r["run_date"]), r["finished_at"]))
    metrics = dict(last["metrics"] or [])
    return {"run_date": str(last["run_date"]), "events_in_window": last["rows_in"],
            "customers": metrics.get("customers", 0), "ids": metrics.get("ids", 0),
            "shared_ids": metrics.get("shared_ids", 0), "cc_rounds": metrics.get("cc_rounds", 0),
            "customers_by_ids": {k[len("components_size_"):]: v for k, v in sorted(metrics.items())
                                 if k.startswith("components_size_")},
            "journeys_by_status": {k[len("journeys_"):]: v for k, v in sorted(metrics.items())
                                   if k.startswith("journeys_") and k != "journeys_written"}}


def reconcile(runs: list[dict]) -> dict[str, dict]:
    totals: dict[str, dict] = {}
    for r in runs:
        t = totals.setdefault(r["source"], {**{c: 0 for c in COUNTS}, "is_balanced": True,
                                            "quarantine_by_reason": {}})
        for c in COUNTS:
            t[c] += r.get(c) or 0  # rows_bot is null in runs recorded before the skew guard
        t["is_balanced"] &= bool(r["is_balanced"]) and r["rows_in"] == (
            r["rows_out"] + r["rows_quarantined"] + r["rows_duplicate"] + (r.get("rows_bot") or 0))
        for code, n in r["quarantine_by_reason"].items():
            t["quarantine_by_reason"][code] = t["quarantine_by_reason"].get(code, 0) + n
    return totals


def table_rows(warehouse: str) -> dict[str, int]:
    fs, root = fsspec.core.url_to_fs(warehouse)
    if not fs.exists(root):
        return {}
    out = {}
    for info in sorted(fs.ls(root, detail=True), key=lambda i: i["name"]):
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if info["type"] == "directory" and not name.startswith(("_", ".")):
            dataset = _dataset(warehouse, name)
            out[name] = dataset.count_rows() if dataset is not None else 0
    return out


def summary(config: Config, dates: list[date] | None = None) -> dict:
    runs = latest_runs(config.warehouse, dates)
    totals = reconcile(runs)
    reasons: dict[str, int] = {}
    for t in totals.values():
        for code, n in t["quarantine_by_reason"].items():
            reasons[code] = reasons.get(code, 0) + n
    return {
        "dates": sorted({r["run_date"] for r in runs}),
        "runs": sorted({(r["run_date"], r["run_id"]) for r in runs}),
        "sources": totals,
        "balanced": all(t["is_balanced"] for t in totals.values()) and bool(totals),
        "quarantine_by_reason": dict(sorted(reasons.items())),
        "build": latest_build(config.warehouse, dates),
        "tables": table_rows(config.warehouse),
        "warehouse": config.warehouse,
    }


def render(s: dict) -> str:
    if not s["dates"]:
        return f"no succeeded runs recorded in {s['warehouse']}/pipeline_runs"
    span = s["dates"][0] if len(s["dates"]) == 1 else f"{s['dates'][0]} .. {s['dates'][-1]}"
    lines = [f"{len(s['dates'])} arrival date(s) ({span}), reconciliation over the latest run of each:",
             f"  {'source':<15}{'rows_in':>10}{'out':>10}{'quarantined':>13}{'duplicate':>11}{'bot':>8}{'late':>8}"
             f"  balanced"]
    for name, t in s["sources"].items():
        lines.append(f"  {name:<15}{t['rows_in']:>10}{t['rows_out']:>10}{t['rows_quarantined']:>13}"
                     f"{t['rows_duplicate']:>11}{t['rows_bot']:>8}{t['rows_late']:>8}  "
                     f"{'yes' if t['is_balanced'] else 'NO'}")
    reasons = ", ".join(f"{k} {v}" for k, v in s["quarantine_by_reason"].items()) or "none"
    lines.append(f"  quarantined by reason: {reasons}")
    b = s.get("build")
    if b:
        sizes = ", ".join(f"{k}: {v}" for k, v in b["customers_by_ids"].items())
        status = ", ".join(f"{k} {v}" for k, v in b["journeys_by_status"].items()) or "none"
        lines.append(f"  identity after {b['run_date']}: {b['customers']} customers from {b['ids']} ids "
                     f"({b['shared_ids']} shared), {b['cc_rounds']} CC round(s); customers by ids {sizes}")
        lines.append(f"  journeys rewritten by that night: {status}")
    lines.append("  rows per table: " + ", ".join(f"{k} {v}" for k, v in s["tables"].items()))
    lines.append(f"  tables:     {s['warehouse']}/<table>/")
    lines.append(f"  validation: {s['warehouse']}/_validation/data_docs/index.html")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.summary", description="reconciliation and table sizes")
    p.add_argument("--config", help="YAML config file (default: config/journeys.yaml)")
    p.add_argument("--date", action="append", type=date.fromisoformat, help="only these arrival dates (repeatable)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"summary: {exc}", file=sys.stderr)
        return 2
    s = summary(config, args.date)
    print(json.dumps(s, indent=2, default=str) if args.json else render(s))
    return 0 if s["balanced"] else 1


if __name__ == "__main__":
    sys.exit(main())
