"""Does a nightly run cost more as history grows? Day 30 vs day 5 at equal daily volume.

    .venv/bin/python bench/history.py --customers 2000 --days 30 --out bench/results

Generates `--days` days for a fixed population. Its web traffic fades (people who gave up
visit less: 10.2k clickstream rows on day 1, 6.6k on day 30 at 2,000 customers), so the
clickstream is then levelled: each arrival date keeps the devices whose hashed
anonymous_id falls below a fraction that only grows from one date to the next, chosen so
every day delivers about as many rows as the quietest. Devices enter over time and stay,
as new visitors would; nothing else is touched. Then it runs every
arrival date through all steps in order, and reports the wall time of each night and of
each step, the events in the reprocessing window and the journey start dates analysed. The
figure is median(last three nights) / median(nights 4-6); the target is <= 1.5
(docs/performance.md).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import os
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from jobs import steps
from jobs.config import load_config
from jobs.generator import generate
from jobs.normalize.pii import PiiKey
from jobs.pipeline import normalize
from jobs.spark_session import get_spark

SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")


_ANON = re.compile(rb'"anonymous_id":"([^"]*)"')


def _share(line: bytes) -> float:
    """Where the line's device falls in [0, 1): lines of one device fall together."""
    m = _ANON.search(line)
    digest = hashlib.blake2b(m.group(1) if m else line, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _non_decreasing(values: list[float]) -> list[float]:
    """The closest non-decreasing sequence (least squares; pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for v in values:
        blocks.append([v, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, n2), (m1, n1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2])
    return [m for m, n in blocks for _ in range(int(n))]


def level_clickstream(root: Path, full_days: int) -> list[dict]:
    """Thin every arrival date's clickstream to about the quietest full day's row count,
    keeping whole devices, with a kept share that never shrinks (see the module docstring)."""
    folders = sorted(root.glob("arrival_date=*"))
    lines = {f: [ln for part in sorted(f.iterdir()) for ln in gzip.open(part, "rb").read().splitlines(True)]
             for f in folders}
    target = min(len(lines[f]) for f in folders[:full_days])
    wanted = [target / max(len(lines[f]), 1) for f in folders[:full_days]]
    shares = _non_decreasing(wanted)
    shares += [shares[-1]] * (len(folders) - full_days)  # late deliveries only: the last day's devices
    out = []
    for f, share in zip(folders, shares):
        share = min(1.0, share)
        kept = [ln for ln in lines[f] if _share(ln) < share]
        for part in f.iterdir():
            part.unlink()
        with gzip.open(f / "part-00000.ndjson.gz", "wb") as fh:
            fh.writelines(kept)
        out.append({"arrival_date": f.name.split("=")[1], "generated": len(lines[f]), "kept": len(kept),
                    "share": round(share, 4)})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--config", default=None)
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-history-"))
    try:
        raw = work / "raw"
        generate(raw, customers=args.customers, days=args.days, seed=args.seed)
        levelled = level_clickstream(raw / "clickstream", args.days)
        kept = [d["kept"] for d in levelled[: args.days]]
        print(f"clickstream levelled to {min(kept)}-{max(kept)} rows a day (generated "
              f"{levelled[0]['generated']} on day 1, {levelled[args.days - 1]['generated']} on day {args.days})", flush=True)
        config = load_config(args.config).with_overrides(
            warehouse=str(work / "wh"), sources={s: {"path": str(raw / s)} for s in SOURCES})
        spark = get_spark(config)
        key = PiiKey(os.environ.get("JOURNEYS_PII_KEY", "bench-key-0123456789abcdef").encode())
        dates = sorted({date.fromisoformat(f.name.split("=")[1]) for s in SOURCES for f in (raw / s).glob("arrival_date=*")})
        nights = []
        for day in dates:
            # the steps of jobs.pipeline.run_date, timed one by one to show where growth comes from
            t0 = time.monotonic()
            result = normalize(spark, config, day, key)
            t1 = time.monotonic()
            build = steps.build_step(spark, config, day)
            t2 = time.monotonic()
            steps.validate_step(spark, config, day)
            t3 = time.monotonic()
            steps.publish_step(spark, config, day)
            t4 = time.monotonic()
            seconds = t4 - t0
            steps_seconds = {"normalize": round(t1 - t0, 1), "build": round(t2 - t1, 1),
                             "validate": round(t3 - t2, 1), "publish": round(t4 - t3, 1)}
            nights.append({"date": day.isoformat(), "seconds": round(seconds, 2), "rows_in": result.totals.rows_in,
                           "window_events": build.events_in_window, "start_dates_analysed": build.start_dates_analysed,
                           "steps": steps_seconds, "build_phases": build.seconds_by_phase})
            print(f"{day}  {seconds:7.1f} s  rows_in {result.totals.rows_in:>8}  window events "
                  f"{build.events_in_window:>8}  start dates analysed {build.start_dates_analysed:>3}  "
                  f"{steps_seconds}", flush=True)
        full_days = nights[: args.days]  # the trailing dates hold only late deliveries
        early = statistics.median(n["seconds"] for n in full_days[3:6])
        late = statistics.median(n["seconds"] for n in full_days[-3:])
        summary = {"customers": args.customers, "days": args.days, "levelled_clickstream": levelled,
                   "nights": nights,
                   "early_median_seconds": early, "late_median_seconds": late, "ratio": round(late / early, 3),
                   "target": 1.5}
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "history.json").write_text(json.dumps(summary, indent=2))
        print(f"\nnights 4-6 median {early:.1f} s, last three median {late:.1f} s: ratio {late / early:.2f} "
              f"(target <= 1.5)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
