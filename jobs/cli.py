"""`journeys` command line: generate sample data, run one date, run the demo."""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from jobs.analyst.commands import add_parsers as add_analyst_parsers, cmd_sql, cmd_thrift
from jobs.config import Config, ConfigError, load_config
from jobs.report.command import add_parser as add_report_parser, cmd_report, make_report

EXIT_FAILED, EXIT_USAGE = 1, 2


class UsageError(Exception):
    """Wrong arguments or a missing prerequisite: exit code 2, one line."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="journeys", description="Customer-journey pipeline on Spark.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="YAML config file (default: config/journeys.yaml)")
    common.add_argument("--quiet", action="store_true", help="print nothing but errors")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", parents=[common], help="write synthetic raw sources with ground truth",
                       epilog="example: journeys generate --customers 2000 --days 7 --seed 42 --out data/raw")
    g.add_argument("--customers", type=int, default=2000)
    g.add_argument("--days", type=int, default=7)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--start", type=_date, default=date(2026, 1, 5), help="first event date")
    g.add_argument("--out", required=True, help="folder to write <source>/arrival_date=.../ into")

    r = sub.add_parser("run", parents=[common], help="process one arrival date: normalize, build identities and journeys, validate, publish",
                       epilog="example: JOURNEYS_PII_KEY=... journeys run --date 2026-01-05")
    r.add_argument("--date", type=_date, required=True, help="arrival date to process (YYYY-MM-DD)")

    d = sub.add_parser("demo", parents=[common], help="generate sample data and run every date of it",
                       epilog="example: journeys demo --customers 500 --days 3")
    d.add_argument("--customers", type=int, default=1000)
    d.add_argument("--days", type=int, default=5)
    d.add_argument("--seed", type=int, default=42)
    a = sub.add_parser("class-archive", parents=[common],
                       help="build the JVM class archive that shortens every Spark start (spark.class_archive)",
                       epilog="example: journeys class-archive --out .venv/journeys-classes.jsa")
    a.add_argument("--out", help="archive file to write (default: the config's spark.class_archive)")
    add_analyst_parsers(sub, common)
    add_report_parser(sub, common, _date)
    return p


def _require_java() -> None:
    if not shutil.which("java"):
        raise UsageError("Java 17 or newer is needed for Spark and was not found on PATH: run `bash scripts/setup.sh`")


def _raw_root(config: Config) -> Path:
    parents = {Path(getattr(config.sources, n).path).parent for n in type(config.sources).model_fields}
    if len(parents) != 1:
        raise UsageError("demo needs all sources under one raw folder (sources.*.path share a parent)")
    return parents.pop()


def _arrival_dates(config: Config) -> list[date]:
    found = set()
    for name in type(config.sources).model_fields:
        root = Path(getattr(config.sources, name).path)
        for folder in root.glob("arrival_date=*"):
            found.add(date.fromisoformat(folder.name.split("=", 1)[1]))
    return sorted(found)


def _print_run(result, quiet: bool) -> None:
    if quiet:
        return
    print(f"\nrun {result.run_id}  ({result.seconds:.1f} s)")
    print(f"  {'source':<15}{'rows_in':>10}{'out':>10}{'quarantined':>13}{'duplicate':>11}{'bot':>8}{'late':>8}  balanced")
    for r in [*result.sources, result.totals]:
        print(f"  {r.source:<15}{r.rows_in:>10}{r.rows_out:>10}{r.rows_quarantined:>13}{r.rows_duplicate:>11}"
              f"{r.rows_bot:>8}{r.rows_late:>8}  {'yes' if r.is_balanced else 'NO'}")
    reasons = result.totals.quarantine_by_reason
    if reasons:
        print("  quarantined by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    for r in result.sources:
        for w in r.warnings:
            print(f"  warning [{r.source}]: {w}")
    b = result.build
    if b:
        status = ", ".join(f"{k} {v}" for k, v in sorted(b["journeys_by_status"].items()))
        sizes = ", ".join(f"{k}: {v}" for k, v in b["components_by_size"].items())
        print(f"  identity: {b['customers']} customers from {b['ids']} ids ({b['shared_ids']} shared), "
              f"{b['cc_rounds']} CC round(s); customers by ids {sizes}")
        print(f"  journeys: {b['journey_events']} events in the window since {b['window_start']}; "
              f"journeys rewritten: {status}")
        for w in b["warnings"]:
            print(f"  warning [build]: {w}")


def _print_totals(runs: list[dict]) -> None:
    fields = ("rows_in", "rows_out", "rows_quarantined", "rows_duplicate", "rows_bot", "rows_late")
    totals: dict[str, dict] = {}
    for run in runs:
        for src in run["sources"]:
            t = totals.setdefault(src["source"], {f: 0 for f in fields} | {"balanced": True, "reasons": {}})
            for f in fields:
                t[f] += src[f]
            t["balanced"] &= src["is_balanced"]
            for code, n in src["quarantine_by_reason"].items():
                t["reasons"][code] = t["reasons"].get(code, 0) + n
    print(f"  {'source':<15}{'rows_in':>10}{'out':>10}{'quarantined':>13}{'duplicate':>11}{'bot':>8}{'late':>8}  balanced")
    for name, t in totals.items():
        print(f"  {name:<15}{t['rows_in']:>10}{t['rows_out']:>10}{t['rows_quarantined']:>13}"
              f"{t['rows_duplicate']:>11}{t['rows_bot']:>8}{t['rows_late']:>8}  {'yes' if t['balanced'] else 'NO'}")
    reasons: dict[str, int] = {}
    for t in totals.values():
        for code, n in t["reasons"].items():
            reasons[code] = reasons.get(code, 0) + n
    print("  quarantined by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))


def _print_tables(config: Config) -> None:
    """What an analyst would ask first: how many customers and journeys, by kind and status."""
    from jobs.spark_session import get_spark
    from jobs.storage import read_table

    spark = get_spark(config)
    customers = read_table(spark, config.warehouse, "customers")
    journeys = read_table(spark, config.warehouse, "journeys")
    if customers is None or journeys is None:
        return
    kinds = {r[0]: r[1] for r in customers.groupBy("customer_type").count().collect()}
    status = {r[0]: r[1] for r in journeys.groupBy("status").count().collect()}
    print(f"  customers:    {sum(kinds.values())} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    print(f"  journeys:     {sum(status.values())} ({', '.join(f'{k} {v}' for k, v in sorted(status.items()))})")


def _run_dict(result) -> dict:
    return {
        "run_id": result.run_id, "run_date": result.run_date.isoformat(), "seconds": round(result.seconds, 2),
        "sources": [{"source": r.source, "rows_in": r.rows_in, "rows_out": r.rows_out,
                     "rows_quarantined": r.rows_quarantined, "rows_duplicate": r.rows_duplicate,
                     "rows_bot": r.rows_bot, "rows_late": r.rows_late, "is_balanced": r.is_balanced,
                     "quarantine_by_reason": r.quarantine_by_reason, "warnings": r.warnings}
                    for r in result.sources],
        "build": result.build,
    }


def cmd_generate(args, config: Config) -> dict:
    from jobs.generator import generate

    t0 = time.monotonic()
    summary = generate(args.out, customers=args.customers, days=args.days, seed=args.seed, start_date=args.start)
    seconds = time.monotonic() - t0
    if not args.quiet and not args.json:
        print(f"wrote synthetic sources to {Path(args.out).resolve()} in {seconds:.1f} s")
        print(f"  {summary['events']} clickstream events ({summary.get('clickstream_events_per_second', 0):,.0f}"
              f" events/s), {summary['late']} late")
        for source, rows in summary["rows"].items():
            bad = sum(summary["malformed"].get(source, {}).values())
            print(f"  {source:<15} {rows:>9} rows  {summary['duplicates'].get(source, 0):>6} duplicate  {bad:>5} malformed")
        print(f"  ground truth: {Path(args.out).resolve() / 'ground_truth'}")
    return {"out": str(Path(args.out).resolve()), "seconds": round(seconds, 2), "summary": summary}


def _run_dates(config: Config, dates: list[date], demo: bool, quiet: bool, as_json: bool) -> list[dict]:
    from jobs.normalize.pii import resolve_key
    from jobs.pipeline import run_date
    from jobs.spark_session import get_spark

    _require_java()
    key = resolve_key(config.pii.key_env, config.pii.min_key_length, allow_demo=demo,
                      airflow_conn_id=config.pii.airflow_conn_id)
    spark = get_spark(config)
    out = []
    for day in dates:
        loud = not quiet and not as_json
        if loud:
            print(f"processing arrival date {day} ...", flush=True)
        result = run_date(spark, config, day, key,
                          progress=(lambda line: print(f"  {line}", flush=True)) if loud else None)
        _print_run(result, quiet or as_json)
        out.append(_run_dict(result))
    return out


def cmd_run(args, config: Config) -> dict:
    src_dates = _arrival_dates(config)
    if args.date not in src_dates:
        raise UsageError(f"no raw data for {args.date} in any source folder; dates present: "
                         f"{', '.join(d.isoformat() for d in src_dates[:10]) or 'none'}"
                         f"{' ...' if len(src_dates) > 10 else ''}")
    return {"runs": _run_dates(config, [args.date], demo=False, quiet=args.quiet, as_json=args.json)}


def cmd_demo(args, config: Config) -> dict:
    raw = _raw_root(config)
    if raw.exists():
        shutil.rmtree(raw)
    warehouse = Path(config.warehouse)
    if warehouse.exists():
        shutil.rmtree(warehouse)
    t0 = time.monotonic()
    args.out, args.start = str(raw), date(2026, 1, 5)
    gen = cmd_generate(args, config)
    dates = _arrival_dates(config)
    runs = _run_dates(config, dates, demo=True, quiet=args.quiet, as_json=args.json)
    report = make_report(config, config.warehouse, dates[0], dates[-1], None)
    seconds = time.monotonic() - t0
    if not args.quiet and not args.json:
        print(f"\ndemo finished in {seconds:.0f} s: {len(runs)} arrival dates, reconciliation over all of them:")
        _print_totals(runs)
        print(f"  raw sources:  {raw}")
        _print_tables(config)
        print(f"  tables:       {warehouse}/<table>/  (events, quarantine, crm_customers, identity_map, customers,"
              " journey_events, journeys, pipeline_runs)")
        print(f"  validation:   {warehouse}/_validation/data_docs/index.html")
        print(f"  report:       {report['out']}")
    return {"generate": gen, "runs": runs, "seconds": round(seconds, 1), "warehouse": str(warehouse),
            "report": report["out"]}


def cmd_class_archive(args, config: Config) -> dict:
    from jobs.jvm import build_class_archive

    out = args.out or config.spark.class_archive
    if not out:
        raise UsageError("class-archive: give --out or set spark.class_archive in the config")
    _require_java()
    result = build_class_archive(config, out)
    if not args.quiet and not args.json:
        print(f"class archive: {result['archive']} ({result['bytes'] / 2**20:.0f} MiB, "
              f"trained on one tiny date in {result['seconds']} s)")
        if Path(result["archive"]) != Path(config.spark.class_archive or "/").resolve():
            print(f"  to use it, set spark.class_archive: {result['archive']}")
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # validation warnings are printed in each run's summary; the log would repeat them
    logging.getLogger("jobs.quality").setLevel(logging.ERROR)
    try:
        config = load_config(args.config)
        handler = {"generate": cmd_generate, "run": cmd_run, "demo": cmd_demo,
                   "sql": cmd_sql, "thrift": cmd_thrift,
                   "report": cmd_report, "class-archive": cmd_class_archive}[args.command]
        result = handler(args, config)
    except (ConfigError, UsageError) as exc:
        print(f"journeys: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a failed run: one clear line, details in the log above
        from jobs.normalize.pii import MissingPiiKey

        code = EXIT_USAGE if isinstance(exc, MissingPiiKey) else EXIT_FAILED
        print(f"journeys: {args.command} failed: {exc}", file=sys.stderr)
        return code
    if args.json and result is not None:  # None: the command printed its own output (sql)
        print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
