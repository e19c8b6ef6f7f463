"""How long does `journeys report` take over 30 days of sample data?

    .venv/bin/python bench/report.py --customers 1000 --days 30 --out bench/results

Generates `--days` days for `--customers` customers and publishes them the quick way the
test fixture does (normalize + publish per arrival date, then one build over every event
date and its publish: `journeys run` per date would rebuild each night and take hours),
then times `journeys report` over every date as a user runs it (a fresh process: Python
start-up and DuckDB's first read of the Parquet files count). `--warehouse DIR` keeps the
published warehouse there and reuses it on the next run, so only the report is timed again.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
START = date(2026, 1, 5)


def publish_sample(warehouse: Path, customers: int, days: int, seed: int, config_file: str | None) -> Path:
    """Generate `days` days next to `warehouse` (in raw/) and publish them into it."""
    from jobs import steps
    from jobs.config import load_config
    from jobs.generator import generate
    from jobs.normalize.pii import PiiKey
    from jobs.pipeline import normalize
    from jobs.spark_session import get_spark

    raw = warehouse.parent / "raw"
    generate(raw, customers=customers, days=days, seed=seed, start_date=START)
    config = load_config(config_file).with_overrides(
        warehouse=str(warehouse), sources={s: {"path": str(raw / s)} for s in SOURCES})
    spark = get_spark(config)
    key = PiiKey(os.environ.get("JOURNEYS_PII_KEY", "bench-key-0123456789abcdef").encode())
    dates = sorted({date.fromisoformat(f.name.split("=")[1]) for s in SOURCES for f in (raw / s).glob("arrival_date=*")})
    for day in dates:
        normalize(spark, config, day, key)
        steps.publish_step(spark, config, day)
    steps.build_step(spark, config, dates[-1], window_start=dates[0])
    steps.publish_step(spark, config, dates[-1])
    spark.stop()
    return Path(config.warehouse)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--config", default=None)
    p.add_argument("--warehouse", default=None,
                   help="report on this warehouse folder if it holds tables, else publish the sample into it")
    p.add_argument("--runs", type=int, default=3, help="report runs to time (the median is reported)")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()

    # --warehouse names the warehouse folder itself: an existing one (bench/history.py's, a
    # demo's) is reported on as it is, a missing one is created there with the sample
    warehouse = Path(args.warehouse).resolve() if args.warehouse else \
        Path(tempfile.mkdtemp(prefix="bench-report-")) / "warehouse"
    work = warehouse.parent
    t0 = time.monotonic()
    if not (warehouse / "journeys").is_dir():
        work.mkdir(parents=True, exist_ok=True)
        publish_sample(warehouse, args.customers, args.days, args.seed, args.config)
    publish_seconds = time.monotonic() - t0

    last = START + timedelta(days=args.days - 1)
    html = work / "report.html"
    cmd = [str(ROOT / ".venv" / "bin" / "journeys"), "report", "--warehouse", str(warehouse), "--from", START.isoformat(),
           "--to", last.isoformat(), "--out", str(html), "--quiet"]
    times = []
    for _ in range(args.runs):
        t = time.monotonic()
        subprocess.run(cmd, check=True)
        times.append(time.monotonic() - t)
    times.sort()
    result = {"customers": args.customers, "days": args.days, "publish_seconds": round(publish_seconds, 1),
              "report_seconds": [round(x, 2) for x in times], "report_seconds_median": round(times[len(times) // 2], 2),
              "report_bytes": html.stat().st_size, "warehouse": str(warehouse), "report": str(html)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
