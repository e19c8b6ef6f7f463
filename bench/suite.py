"""The benchmark suite: one command, one JSON file and one markdown table.

    .venv/bin/python bench/suite.py --out bench/results            # 1M and 10M events, everything
    .venv/bin/python bench/suite.py --sizes 200000 --skip history  # a quick look
    .venv/bin/python bench/suite.py --render bench/results/suite.json  # the tables of a finished run

Measures, in one run, on this machine:
- the generator's events per second (the largest size's generation);
- per size (raw events in ONE arrival date): the full nightly pipeline (normalize, build,
  validate, publish: `jobs.pipeline.run_date`) wall time, events/s per core and peak memory
  (driver JVM + Python, high-water RSS), each in a process of its own;
- the I/O floor of the same raw files: Spark reading them as text and writing them as
  Parquet, no transformation; the pipeline's time as a multiple of it;
- scaling: time(largest) / time(smallest);
- skew: the largest day again with one bot of `--bot-events` events added, against the day
  without it (the bot must end in the `bots` table, and cost little);
- history: bench/history.py (day 30 vs day 5 at equal daily volume), at
  `--history-customers` over `--history-days`.

A day of N raw events: the generator writes `--span-days` days (3 by default, within the
lateness window) for as many customers as give N events, and every delivery of those days
is put into the last event date's arrival folder, so one nightly run reads all of it.
Targets (docs/performance.md): pipeline <= 4x the I/O floor, 10M events <= 10 minutes,
time(10M)/time(1M) <= 11, day 30 / day 5 <= 1.5, bot day <= 1.5x the normal day.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
TARGETS = {"floor_multiple": 4.0, "seconds_10m": 600.0, "scaling": 11.0, "history_ratio": 1.5, "bot_ratio": 1.5}
EVENTS_PER_CUSTOMER_DAY = 4.4  # measured: generate(2000 customers, 3 days) gives ~26k raw rows


# ------------------------------------------------------------------ data


def make_day(work: Path, events: int, span_days: int, seed: int) -> dict:
    """Generate about `events` raw rows and fold every delivery into one arrival folder."""
    from jobs.generator import generate

    landing = work / "landing"
    customers = max(50, round(events / (EVENTS_PER_CUSTOMER_DAY * span_days)))
    started = time.monotonic()
    summary = generate(landing, customers=customers, days=span_days, seed=seed)
    gen_seconds = time.monotonic() - started
    day = date(2026, 1, 5) + timedelta(days=span_days - 1)
    raw = work / "raw"
    rows = 0
    for source in SOURCES:
        target = raw / source / f"arrival_date={day.isoformat()}"
        target.mkdir(parents=True, exist_ok=True)
        for folder in sorted((landing / source).glob("arrival_date=*")):
            for f in sorted(folder.iterdir()):
                if f.name.startswith(("_", ".")):
                    continue
                dest = target / f"{folder.name.split('=')[1]}-{f.name}"
                f.rename(dest)
                opener = gzip.open if dest.suffix == ".gz" else open
                with opener(dest, "rb") as fh:
                    n = sum(1 for _ in fh)
                rows += n - (1 if source != "clickstream" else 0)  # CSV headers are not rows
    shutil.rmtree(landing)
    return {"raw": str(raw), "date": day.isoformat(), "customers": customers, "raw_rows": rows,
            "generated_events": summary["events"], "generator_seconds": round(gen_seconds, 1),
            "generator_events_per_second": round(summary["events"] / gen_seconds)}


def add_bot(raw: Path, day: str, events: int) -> int:
    """One device with `events` page views on the day, as an extra collector file."""
    template = None
    folder = raw / "clickstream" / f"arrival_date={day}"
    for f in sorted(folder.iterdir()):
        with gzip.open(f, "rt") if f.suffix == ".gz" else open(f) as fh:
            for line in fh:
                obj = _try_json(line)
                if obj and obj.get("event_type") == "page_view" and obj.get("anonymous_id"):
                    template = obj
                    break
        if template:
            break
    if template is None:
        raise RuntimeError("no page_view line to copy for the bot")
    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    step_ms = 86_400_000 / events
    template = {**template, "anonymous_id": "bench-bot-device", "user_id": None}
    prefix = json.dumps({k: v for k, v in template.items() if k not in ("event_id", "client_ts", "sent_at",
                                                                        "received_at")})[:-1]
    with gzip.open(folder / "zz-bot.ndjson.gz", "wt", compresslevel=1) as out:
        for i in range(events):
            at = (start + timedelta(milliseconds=int(i * step_ms))).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            out.write(f'{prefix}, "event_id": "bot-{i:09d}", "client_ts": "{at}", "sent_at": "{at}", '
                      f'"received_at": "{at}"}}\n')
    return events


def _try_json(line: str):
    try:
        return json.loads(line)
    except ValueError:
        return None


# ------------------------------------------------------------------ measurements (each in its own process)


def _peak_rss_mb() -> float:
    """High-water resident memory of this process and its children (the driver JVM)."""
    pids = [os.getpid()]
    try:
        pids += [int(p) for p in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def shuffle_partitions(events: int, per_million: int = 8) -> int:
    """The config's 8 shuffle partitions suit a day of 1M events; a larger day gets as many per
    million, so a partition holds about as much at every size (at 8, each of a 10M day's would
    hold about 1.4M rows, as many as the gzip partitions that ran an 8 GB driver out of heap).
    Not simply many: the identity rounds run as many tasks, and 200 partitions with adaptive
    coalescing made the 1M day 449 s against 265 s."""
    return max(per_million, round(per_million * events / 1_000_000))


def _config(raw: str, warehouse: str, driver_memory: str, partitions: int):
    from jobs.config import load_config

    return load_config(ROOT / "config" / "journeys.yaml").with_overrides(
        warehouse=warehouse, sources={s: {"path": f"{raw}/{s}"} for s in SOURCES},
        spark={"driver_memory": driver_memory, "shuffle_partitions": partitions})


def measure_pipeline(raw: str, warehouse: str, day: str, driver_memory: str, partitions: int) -> dict:
    from jobs.normalize.pii import PiiKey
    from jobs.pipeline import run_date
    from jobs.spark_session import get_spark

    config = _config(raw, warehouse, driver_memory, partitions)
    spark = get_spark(config)
    spark.range(1).count()  # the session is up before the clock starts
    steps: list[str] = []
    started = time.monotonic()
    result = run_date(spark, config, date.fromisoformat(day), PiiKey(b"bench-key-0123456789abcdef"), steps.append)
    seconds = time.monotonic() - started
    t = result.totals
    bots = spark.read.parquet(f"{warehouse}/bots").count() if Path(warehouse, "bots").exists() else 0
    return {"seconds": round(seconds, 1), "rows_in": t.rows_in, "rows_out": t.rows_out,
            "rows_quarantined": t.rows_quarantined, "rows_duplicate": t.rows_duplicate, "rows_bot": t.rows_bot,
            "bots_table_rows": bots, "balanced": all(s.is_balanced for s in result.sources),
            "steps": steps, "build_phases": (result.build or {}).get("seconds_by_phase"),
            "peak_rss_mb": _peak_rss_mb()}


def measure_floor(raw: str, warehouse: str, driver_memory: str, partitions: int) -> dict:
    """Spark reads every raw file as text and writes it as Parquet: the least any run does."""
    from jobs.spark_session import get_spark

    config = _config(raw, warehouse, driver_memory, partitions)
    spark = get_spark(config)
    spark.range(1).count()
    started = time.monotonic()
    rows = 0
    for source in SOURCES:
        df = spark.read.text(f"{raw}/{source}/*/*")
        df.write.mode("overwrite").parquet(f"{warehouse}/floor/{source}")
        rows += spark.read.parquet(f"{warehouse}/floor/{source}").count()
    return {"seconds": round(time.monotonic() - started, 1), "lines": rows, "peak_rss_mb": _peak_rss_mb()}


def _child(kind: str, **kwargs) -> dict:
    """Run one measurement in a fresh process (fresh JVM, its own memory high-water mark)."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    cmd = [sys.executable, __file__, "--measure", kind, "--result", str(out),
           *[a for k, v in kwargs.items() for a in (f"--{k.replace('_', '-')}", str(v))]]
    subprocess.run(cmd, check=True, cwd=ROOT)
    result = json.loads(out.read_text())
    out.unlink()
    return result


# ------------------------------------------------------------------ the run


def work_folder(base: str | None) -> Path:
    """A fresh folder for this run's data, under `base` (created if missing) or the system's temp."""
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="bench-suite-", dir=base))


def run_suite(args) -> dict:
    work = work_folder(args.work)
    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                 "python": platform.python_version(), "load_at_start": os.getloadavg()},
                     "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "sizes": [], "targets": TARGETS}
    try:
        for events in sorted(args.sizes):
            d = work / f"n{events}"
            print(f"[{events:,} events] generating ...", flush=True)
            data = make_day(d, events, args.span_days, args.seed)
            print(f"  {data['raw_rows']:,} raw rows, generator {data['generator_events_per_second']:,} events/s",
                  flush=True)
            parts = args.shuffle_partitions or shuffle_partitions(events)
            floor = _child("floor", raw=data["raw"], warehouse=d / "wh_floor", driver_memory=args.driver_memory,
                           partitions=parts)
            print(f"  I/O floor {floor['seconds']} s", flush=True)
            pipe = _child("pipeline", raw=data["raw"], warehouse=d / "wh", date=data["date"],
                          driver_memory=args.driver_memory, partitions=parts)
            print(f"  pipeline {pipe['seconds']} s, peak {pipe['peak_rss_mb']} MB", flush=True)
            entry = {"events": events, "shuffle_partitions": parts, "data": data, "floor": floor, "pipeline": pipe,
                     "floor_multiple": round(pipe["seconds"] / floor["seconds"], 2),
                     "events_per_second_per_core": round(pipe["rows_in"] / pipe["seconds"] / os.cpu_count())}
            shutil.rmtree(d / "wh", ignore_errors=True)
            shutil.rmtree(d / "wh_floor", ignore_errors=True)
            if events == max(args.sizes) and "skew" not in args.skip:
                add_bot(Path(data["raw"]), data["date"], args.bot_events)
                bot = _child("pipeline", raw=data["raw"], warehouse=d / "wh_bot", date=data["date"],
                             driver_memory=args.driver_memory, partitions=parts)
                print(f"  with a bot of {args.bot_events:,} events: {bot['seconds']} s", flush=True)
                results["skew"] = {"events": events, "bot_events": args.bot_events, "pipeline": bot,
                                   "ratio": round(bot["seconds"] / pipe["seconds"], 2)}
            results["sizes"].append(entry)
            shutil.rmtree(d, ignore_errors=True)
        sizes = results["sizes"]
        if len(sizes) > 1:
            results["scaling"] = {"from": sizes[0]["events"], "to": sizes[-1]["events"],
                                  "ratio": round(sizes[-1]["pipeline"]["seconds"] / sizes[0]["pipeline"]["seconds"], 2)}
        results["generator_events_per_second"] = sizes[-1]["data"]["generator_events_per_second"] if sizes else None
        if "history" not in args.skip:
            out = work / "history"
            subprocess.run([sys.executable, str(ROOT / "bench" / "history.py"), "--customers",
                            str(args.history_customers), "--days", str(args.history_days), "--out", str(out)],
                           check=True, cwd=ROOT)
            h = json.loads((out / "history.json").read_text())
            results["history"] = {k: h[k] for k in ("customers", "days", "early_median_seconds",
                                                    "late_median_seconds", "ratio")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_at_end"] = os.getloadavg()
    return results


def markdown(r: dict) -> str:
    def ok(value, target, smaller=True):
        return "yes" if (value <= target if smaller else value >= target) else "**no**"

    lines = ["| measure | value | target | met |", "|---|---:|---:|:---:|"]
    if r.get("generator_events_per_second"):
        lines.append(f"| generator | {r['generator_events_per_second']:,} events/s | | |")
    for s in r["sizes"]:
        p, n = s["pipeline"], f"{s['events'] / 1e6:g}M"
        lines.append(f"| pipeline, {n} events ({p['rows_in']:,} raw rows) | {p['seconds']:,.0f} s | "
                     + (f"≤ 600 s | {ok(p['seconds'], 600)} |" if s["events"] >= 10_000_000 else " | |"))
        lines.append(f"| events/s per core, {n} | {s['events_per_second_per_core']:,} | | |")
        lines.append(f"| peak memory, {n} (driver JVM + Python) | {p['peak_rss_mb']:,.0f} MB | | |")
        lines.append(f"| I/O floor, {n} | {s['floor']['seconds']:,.1f} s | | |")
        lines.append(f"| pipeline / I/O floor, {n} | {s['floor_multiple']}x | ≤ 4x | {ok(s['floor_multiple'], 4)} |")
        if s.get("shuffle_partitions"):
            lines.append(f"| shuffle partitions, {n} | {s['shuffle_partitions']} | | |")
    if "scaling" in r:
        sc = r["scaling"]
        lines.append(f"| time({sc['to'] / 1e6:g}M) / time({sc['from'] / 1e6:g}M) | {sc['ratio']} | ≤ 11 | "
                     f"{ok(sc['ratio'], 11)} |")
    if "history" in r:
        h = r["history"]
        lines.append(f"| history: day {h['days']} / day 5 ({h['customers']:,} customers) | {h['ratio']} | ≤ 1.5 | "
                     f"{ok(h['ratio'], 1.5)} |")
    if "skew" in r:
        k = r["skew"]
        lines.append(f"| bot day ({k['bot_events'] / 1e6:g}M-event bot added) / normal day | {k['ratio']} | ≤ 1.5 | "
                     f"{ok(k['ratio'], 1.5)} |")
        lines.append(f"| bot day, {k['events'] / 1e6:g}M events + bot | {k['pipeline']['seconds']:,.0f} s | | |")
        lines.append(f"| bot rows set aside (rows_bot) | {k['pipeline']['rows_bot']:,} | | |")
    return "\n".join(lines) + "\n" + breakdown(r)


_STEP_SECONDS = re.compile(r"^(\w+): .*\((\d+(?:\.\d+)?) s\)$")
_ROW_COUNTS = (("rows in", "rows_in"), ("out", "rows_out"), ("quarantined", "rows_quarantined"),
               ("duplicate", "rows_duplicate"), ("bot", "rows_bot"), ("in the bots table", "bots_table_rows"))


def step_seconds(pipeline: dict) -> dict[str, float]:
    """Each step's seconds, from the progress lines jobs.pipeline.run_date printed ("build: ... (161.2 s)")."""
    found = (_STEP_SECONDS.match(line) for line in pipeline.get("steps", []))
    return {m.group(1): float(m.group(2)) for m in found if m}


def breakdown(r: dict) -> str:
    """Where each measured run's time went and where its rows went, one column a run."""
    runs = [(f"{s['events'] / 1e6:g}M", s["pipeline"]) for s in r["sizes"]]
    if "skew" in r:
        runs.append((f"{r['skew']['events'] / 1e6:g}M + bot", r["skew"]["pipeline"]))
    if not runs:
        return ""
    steps = [step_seconds(p) for _, p in runs]
    phases = [p.get("build_phases") or {} for _, p in runs]
    names = list(dict.fromkeys(k for s in steps for k in s))
    phase_names = list(dict.fromkeys(k for ph in phases for k in ph))

    def row(label, values):
        return f"| {label} | " + " | ".join(values) + " |"

    def secs(value):
        return "" if value is None else f"{value:,.1f} s"

    lines = ["", row("step", [name for name, _ in runs]), "|---|" + "---:|" * len(runs)]
    for name in names:
        lines.append(row(name, [secs(s.get(name)) for s in steps]))
        if name == "build":
            lines += [row(f"build: {ph}", [secs(p.get(ph)) for p in phases]) for ph in phase_names]
    lines.append(row("whole day", [secs(p["seconds"]) for _, p in runs]))
    for label, key in _ROW_COUNTS:
        lines.append(row(label, ["" if p.get(key) is None else f"{p[key]:,}" for _, p in runs]))
    lines.append(row("balanced", ["yes" if p.get("balanced") else "**no**" for _, p in runs]))
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000], help="raw events per day")
    p.add_argument("--bot-events", type=int, default=2_000_000)
    p.add_argument("--span-days", type=int, default=3)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--history-customers", type=int, default=2000)
    p.add_argument("--history-days", type=int, default=30)
    p.add_argument("--skip", nargs="*", default=[], choices=["skew", "history"])
    p.add_argument("--driver-memory", default="8g")
    p.add_argument("--shuffle-partitions", type=int, default=None,
                   help="spark.shuffle_partitions for every size (default: 8 per million events, at least 8)")
    p.add_argument("--work", default=None, help="folder for the generated data (default: the system's temp)")
    p.add_argument("--out", default="bench/results")
    p.add_argument("--render", metavar="SUITE_JSON", help="print the tables of an earlier run's suite.json and exit")
    # one measurement in this process (the suite starts these itself)
    p.add_argument("--measure", choices=["pipeline", "floor"], help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--raw", help=argparse.SUPPRESS)
    p.add_argument("--warehouse", help=argparse.SUPPRESS)
    p.add_argument("--date", help=argparse.SUPPRESS)
    p.add_argument("--partitions", type=int, default=8, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        sys.path.insert(0, str(ROOT))
        result = (measure_pipeline(args.raw, args.warehouse, args.date, args.driver_memory, args.partitions)
                  if args.measure == "pipeline"
                  else measure_floor(args.raw, args.warehouse, args.driver_memory, args.partitions))
        Path(args.result).write_text(json.dumps(result, indent=2))
        return
    if args.render:
        print(markdown(json.loads(Path(args.render).read_text())), end="")
        return
    results = run_suite(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (out / "suite.md").write_text(table)
    print("\n" + table)


if __name__ == "__main__":
    main()
