"""Identity resolution against the generator's ground truth at sample size (20,000 customers).

    .venv/bin/python bench/identity.py --customers 20000 --days 3 --out bench/results

Generates the sample, normalizes and publishes every arrival date, resolves identities and
builds journeys in one rebuild over all days, then scores "same customer" pair by pair
(jobs/generator/identity_score.py): precision >= 0.99 and recall >= 0.98 are the targets
(issue B). Also reports the connected-components round count and the customers' size
distribution. Writes identity.json and prints a summary; exits 1 below target.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from pyspark.sql import functions as F

from jobs import steps
from jobs.config import load_config
from jobs.generator import generate
from jobs.generator.identity_score import score, truth_ids
from jobs.normalize.pii import PiiKey
from jobs.pipeline import normalize
from jobs.spark_session import get_spark
from jobs.storage import read_table

SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
PRECISION_TARGET, RECALL_TARGET = 0.99, 0.98


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=20000)
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--config", default=None)
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-identity-"))
    seconds = {}
    try:
        raw = work / "raw"
        t0 = time.monotonic()
        generate(raw, customers=args.customers, days=args.days, seed=args.seed)
        seconds["generate"] = round(time.monotonic() - t0, 1)
        config = load_config(args.config).with_overrides(
            warehouse=str(work / "wh"), sources={s: {"path": str(raw / s)} for s in SOURCES},
            quality={"validate_raw": False})  # the raw gate is not what this measures
        spark = get_spark(config)
        key = PiiKey(os.environ.get("JOURNEYS_PII_KEY", "bench-key-0123456789abcdef").encode())
        dates = sorted({date.fromisoformat(f.name.split("=")[1]) for s in SOURCES
                        for f in (raw / s).glob("arrival_date=*")})
        t0 = time.monotonic()
        for day in dates:
            normalize(spark, config, day, key)
            steps.publish_step(spark, config, day)
        seconds["normalize"] = round(time.monotonic() - t0, 1)
        events = read_table(spark, config.warehouse, "events")
        first, n_events = events.agg(F.min("event_date"), F.count("*")).first()
        t0 = time.monotonic()
        build = steps.build_step(spark, config, dates[-1], window_start=first)
        steps.publish_step(spark, config, dates[-1])
        seconds["build"] = round(time.monotonic() - t0, 1)

        t0 = time.monotonic()
        imap = [(r[0], r[1], r[2]) for r in read_table(spark, config.warehouse, "identity_map")
                .select("id_type", "id_value", "customer_key").toLocalIterator()]
        links = [(r[0], r[1]) for r in spark.read.parquet(f"{config.warehouse}/_state/identity_links")
                 .select("a", "b").toLocalIterator()]
        result = score(truth_ids(raw, key.secret), imap, links)
        seconds["score"] = round(time.monotonic() - t0, 1)
        summary = {"customers_generated": args.customers, "days": args.days, "events": n_events,
                   **result, "cc_rounds": build.cc_rounds, "customers": build.customers, "ids": build.ids,
                   "shared_ids": build.shared_ids, "components_by_size": build.components_by_size,
                   "oversized_components": build.oversized_components, "seconds": seconds,
                   "targets": {"precision": PRECISION_TARGET, "recall": RECALL_TARGET}}
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "identity.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"{args.customers} generated customers, {n_events} events over {len(dates)} arrival dates")
        print(f"precision {result['precision']:.4f} (target >= {PRECISION_TARGET}), recall {result['recall']:.4f} "
              f"(target >= {RECALL_TARGET}) over {result['ids_scored']} ids, {result['predicted_pairs']} "
              f"predicted and {result['observable_pairs']} observable pairs")
        print(f"connected components: {build.cc_rounds} rounds; customers by ids: {build.components_by_size}; "
              f"{build.shared_ids} shared ids; oversized components {build.oversized_components}")
        print(f"seconds: {seconds}")
        ok = result["precision"] >= PRECISION_TARGET and result["recall"] >= RECALL_TARGET
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
