"""Killed runs: SIGKILL at 8 points of a rerun while a reader queries the tables in a loop.

The warehouse holds a date published from delivery A; the date is then rerun from a
changed delivery B, step by step as Airflow runs it, and each step's process is killed with
SIGKILL at a fault point (jobs/faults.py): two in normalize, one in build and five in the
publish commit (all but the first while finishing the commit the previous one interrupted),
until a run of the step goes to its end. Each killed run is a process of its own
(`python -m jobs.steps`, a fresh JVM); the run that goes to the end, Airflow's last retry,
runs in the test's own Spark session, which no kill touched: it starts from what the killed
processes left on disk, all a retry on another worker would have. (Validation only reads,
and tests/test_airflow_e2e.py retries a killed task through Airflow, in a new process.)
Meanwhile a thread reads every partition of every table, over and over, with plain PyArrow.

Proved: the reader never sees a partition whose rows are neither A's nor B's (a mix) and
never a file it cannot read; the rerun ends with exactly the tables of an uninterrupted
A-then-B run (sorted-row hashes), records the run once, and leaves no temporary file or
staging folder behind.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from jobs import steps
from jobs.contracts import table_contract
from jobs.generator import generate
from jobs.pipeline import normalize
from tests.conftest import CLASS_ARCHIVE, PIPELINE_KEY, ROOT, SHORT_RUN_JVM, SOURCES, TINY_DATA_CONF, arrival_dates

pytestmark = pytest.mark.slow

# audit tables: every attempt adds its own rows (run ids differ), compared separately
AUDIT = ("pipeline_runs",)
KILLS = [  # (step, fault point), in the order a rerun reaches them; None: the step runs to the end,
    # in this process (a cold step JVM costs about three times the warm session's run)
    ("normalize", "normalize.sources_read"),
    ("normalize", "stage.table_staged#2"),
    ("normalize", None),
    ("build", "build.cursor_written"),
    ("build", None),
    ("publish", "publish.commit_started"),
    ("publish", "publish.partition_moved#2"),        # from here on, each finishes the interrupted commit
    ("publish", "publish.old_partition_parked#2"),   # an old partition parked, the new one not in place
    ("publish", "publish.table_committed#2"),
    ("publish", "publish.file_placed#1"),
    ("publish", None),
]


def _partition_digest(folder: Path) -> str:
    rows = []
    for f in sorted(folder.iterdir()):
        if f.is_file() and not f.name.startswith(("_", ".")):
            rows.extend(repr(sorted(r.items())) for r in pq.read_table(f).to_pylist())
    return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()


def _leaves(warehouse: Path) -> dict[str, Path]:
    """Every partition folder of every table: "table/key=value/..." -> folder."""
    out = {}
    for table_dir in sorted(warehouse.iterdir()):
        if table_dir.name.startswith(("_", ".")) or not table_dir.is_dir():
            continue
        depth = len(table_contract(table_dir.name).partition_by)
        for leaf in table_dir.glob("/".join(["*"] * depth)):
            if leaf.is_dir():
                out[str(leaf.relative_to(warehouse))] = leaf
    return out


def _snapshot(warehouse: Path) -> dict[str, str]:
    return {rel: _partition_digest(leaf) for rel, leaf in _leaves(warehouse).items()
            if not rel.startswith(AUDIT)}


class Reader(threading.Thread):
    """Reads every partition in a loop; records what it saw that is neither old nor new.

    A partition whose files are the very files of an earlier pass (same inode, size and
    modification time) has the rows it had then: their digest is remembered, not recomputed.
    Decoding every row of every partition on every pass took 71 CPU seconds of the module's
    run (a third of a core), taken from the other pytest worker."""

    def __init__(self, warehouse: Path, old: dict[str, str], new: dict[str, str]):
        super().__init__(daemon=True)
        self.warehouse, self.old, self.new = warehouse, old, new
        self.stop, self.passes, self.reads, self.vanished, self.decoded = threading.Event(), 0, 0, 0, 0
        self.problems: list[str] = []
        self._seen: dict[tuple, str] = {}
        self.cpu = 0.0  # this thread's CPU seconds

    def _digest(self, leaf: Path) -> str:
        files = []
        for f in sorted(leaf.iterdir()):
            if f.is_file() and not f.name.startswith(("_", ".")):
                st = f.stat()
                files.append((f.name, st.st_ino, st.st_size, st.st_mtime_ns))
        key = (str(leaf), tuple(files))
        if key not in self._seen:
            self._seen[key] = _partition_digest(leaf)
            self.decoded += 1
        return self._seen[key]

    def run(self):
        while not self.stop.is_set():
            try:
                leaves = _leaves(self.warehouse)
            except FileNotFoundError:  # a table folder renamed under the listing
                self.vanished += 1
                continue
            for rel, leaf in leaves.items():
                if rel.startswith(AUDIT):
                    continue
                try:
                    digest = self._digest(leaf)
                except FileNotFoundError:  # the partition was moved between listing and reading
                    self.vanished += 1
                    continue
                except Exception as exc:  # a half-written or unreadable file
                    self.problems.append(f"{rel}: unreadable: {exc}")
                    continue
                self.reads += 1
                if digest not in (self.old.get(rel), self.new.get(rel)):
                    self.problems.append(f"{rel}: rows are neither the old nor the new partition")
            self.passes += 1
            self.cpu = time.thread_time()
            time.sleep(0.1)  # a busy dashboard, not a second full core taken from the job


def _drop_some_clickstream(raw: Path) -> int:
    """Delivery B: every file of the date rewritten without a fifth of its lines."""
    dropped = 0
    for f in sorted((raw / "clickstream").rglob("*.ndjson*")):
        data = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        lines = data.splitlines(keepends=True)
        keep = [ln for ln in lines if hashlib.sha256(ln).digest()[0] % 5]
        dropped += len(lines) - len(keep)
        out = b"".join(keep)
        f.write_bytes(gzip.compress(out, mtime=0) if f.suffix == ".gz" else out)
    return dropped


def _config_file(path: Path, warehouse: Path, raw: Path) -> Path:
    raw_config = yaml.safe_load((ROOT / "config" / "journeys.yaml").read_text())
    raw_config["warehouse"] = str(warehouse)
    for name in SOURCES:
        raw_config["sources"][name]["path"] = str(raw / name)
    raw_config["spark"].update({"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "1g",
                                "conf": dict(TINY_DATA_CONF), "jvm_options": SHORT_RUN_JVM,
                                "class_archive": CLASS_ARCHIVE})
    raw_config["extract"]["landing"] = {name: {"uri": ""} for name in SOURCES}
    raw_config["quality"]["validate_raw"] = False  # the raw gate is not what is under test here
    path.write_text(yaml.safe_dump(raw_config, sort_keys=False))
    return path


def _step(config: Path, step: str, day: date, fault: str, log: Path) -> int:
    env = {**os.environ, "JOURNEYS_PII_KEY": PIPELINE_KEY.secret.decode(), "PYTHONPATH": str(ROOT),
           "JOURNEYS_FAULT": fault}
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jobs.steps", step, "--date", day.isoformat(),
                                 "--config", str(config)], cwd=ROOT, env=env, stdout=out, stderr=out,
                                start_new_session=True)
        rc = proc.wait(timeout=600)
    try:  # the JVM dies with its driver; a killed container would take it along in any case
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return rc


def _leftovers(warehouse: Path) -> list[str]:
    staging = warehouse / "_staging"
    found = [str(p.relative_to(warehouse)) for p in staging.rglob("*")] if staging.exists() else []
    found += [str(p.relative_to(warehouse)) for p in warehouse.rglob("*")
              if p.name == "_temporary" or p.name.endswith(".tmp")]
    return found


def _run_uninterrupted(spark, config, day: date) -> None:
    normalize(spark, config, day, PIPELINE_KEY)
    steps.build_step(spark, config, day)
    steps.publish_step(spark, config, day)


@pytest.fixture(scope="module")
def crashes(spark, base_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    landing = root / "landing"
    generate(landing, customers=40, days=2, seed=3)
    day = arrival_dates(landing)[0]
    raw_a, raw_b = root / "raw_a", root / "raw_b"
    for raw in (raw_a, raw_b):
        for name in SOURCES:
            src = landing / name / f"arrival_date={day}"
            if src.exists():
                shutil.copytree(src, raw / name / f"arrival_date={day}")
            else:
                (raw / name).mkdir(parents=True, exist_ok=True)
    dropped = _drop_some_clickstream(raw_b)

    # reference: A published, then B, both uninterrupted, in this process (the steps the
    # killed rerun runs; the output suites only read, and the killed steps skip them too)
    wh_ref, wh = root / "wh_ref", root / "wh"
    config = base_config.with_overrides(warehouse=str(wh_ref), quality={"validate_raw": False},
                                        sources={n: {"path": str(raw_a / n)} for n in SOURCES})
    _run_uninterrupted(spark, config, day)
    old = _snapshot(wh_ref)
    shutil.copytree(wh_ref, wh)
    _run_uninterrupted(spark, config.with_overrides(sources={n: {"path": str(raw_b / n)} for n in SOURCES}), day)
    new = _snapshot(wh_ref)

    # the same rerun of B, killed again and again, with a reader on the tables throughout
    config_file = _config_file(root / "journeys.yaml", wh, raw_b)
    log = root / "steps.log"
    reader = Reader(wh, old, new)
    reader.start()
    rerun = config.with_overrides(warehouse=str(wh), sources={n: {"path": str(raw_b / n)} for n in SOURCES})
    to_the_end = {"normalize": lambda: normalize(spark, rerun, day, PIPELINE_KEY),
                  "build": lambda: steps.build_step(spark, rerun, day),
                  "publish": lambda: steps.publish_step(spark, rerun, day)}
    outcomes = []
    try:
        for step, fault in KILLS:
            started = time.monotonic()
            if fault:
                rc = _step(config_file, step, day, fault, log)
            else:
                to_the_end[step]()
                rc = 0
            outcomes.append((step, fault, rc, round(time.monotonic() - started, 1)))
    finally:
        reader.stop.set()
        reader.join(timeout=60)
    return {"old": old, "new": new, "final": _snapshot(wh), "outcomes": outcomes,
            "reader": reader, "warehouse": wh, "dropped": dropped, "log": log, "day": day}


def test_every_fault_point_killed_its_process(crashes):
    for step, fault, rc, seconds in crashes["outcomes"]:
        expected = -signal.SIGKILL if fault else 0
        assert rc == expected, (f"{step} with fault {fault}: exit {rc}, expected {expected}\n"
                                + crashes["log"].read_text()[-3000:])
    kills = [o for o in crashes["outcomes"] if o[1]]
    assert len({(o[0], o[1]) for o in kills}) == len(kills) >= 8
    print(f"\n{len(kills)} kills:", ", ".join(f"{s}@{f} {t}s" for s, f, _, t in kills))


def test_the_reader_never_saw_a_mixed_partition_or_a_broken_file(crashes):
    reader = crashes["reader"]
    assert reader.problems == []
    assert crashes["old"] != crashes["new"] and crashes["dropped"] > 0  # the reader could have told them apart
    changed = [p for p in crashes["new"] if crashes["old"].get(p) != crashes["new"][p]]
    assert len(changed) >= 10
    assert reader.passes >= 100 and reader.reads >= 1000
    # the first passes (long before the first publish) decoded every partition of A, later ones B's changes
    assert reader.decoded >= len(crashes["old"]) + len(changed)
    print(f"\nreader: {reader.passes} passes in {reader.cpu:.0f} CPU s, {reader.reads} partitions read "
          f"({reader.decoded} decoded), "
          f"{reader.vanished} moved while read, "
          f"{len(changed)} partitions differ between A and B")


def test_rerun_after_the_kills_converges_and_leaves_no_temporary_files(crashes):
    assert crashes["final"] == crashes["new"]
    assert _leftovers(crashes["warehouse"]) == []
    runs = pq.read_table(crashes["warehouse"] / "pipeline_runs").to_pylist()
    # A's run and the rerun: recorded once, by whichever publish placed its rows file
    assert len({r["run_id"] for r in runs if r["step"] == "build"}) == 2
    keys = [(r["run_id"], r["step"], r["source"]) for r in runs]
    assert len(keys) == len(set(keys))  # placing the rows file again after a kill added nothing
