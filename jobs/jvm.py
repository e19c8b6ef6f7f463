"""JVM options of the driver and executors, and the class archive that shortens a JVM's start.

Each Airflow task is its own spark-submit, so every step pays for a fresh JVM: loading and
verifying Spark's classes from some 250 jars took about 6 s of each step's start (a tiny
date's four steps: 139 s without an archive, 114 s with one; docs/performance.md). A
class-data-sharing archive (JDK CDS, `-XX:SharedArchiveFile`) holds those classes parsed and
verified, ready to be mapped. It is built once per installation by running one tiny date of
the pipeline in a JVM that dumps every class it loaded when it exits (`journeys
class-archive`, run by scripts/setup.sh). The JVM checks an archive against its own build and
class path and, if they differ, prints a warning and starts without it: a stale archive slows
nothing but is worth rebuilding.

No pyspark import here: the Airflow operator builds its spark-submit line from this module.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

from jobs.config import Config

log = logging.getLogger(__name__)
# the training JVM runs for a minute and exits: C2's compiling would never pay back
_SHORT_RUN = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
_warned: set[str] = set()


def class_archive_options(config: Config) -> list[str]:
    """`-XX:SharedArchiveFile=...` for the configured archive, or nothing if there is none yet."""
    path = config.spark.class_archive
    if not path:
        return []
    if not Path(path).is_file():
        if path not in _warned:  # once per process: every session start would repeat it
            _warned.add(path)
            log.warning("spark.class_archive %s does not exist: the JVM starts without it "
                        "(build it with `journeys class-archive`)", path)
        return []
    return [f"-XX:SharedArchiveFile={path}"]


@functools.lru_cache(maxsize=None)
def java_major(java_home: str | None = None) -> int | None:
    """The major version of the Java Spark starts (JAVA_HOME's, else the one on PATH), read from
    the JDK's `release` file; None when it cannot be told."""
    home = java_home or os.environ.get("JAVA_HOME")
    if not home:
        found = shutil.which("java")
        if not found:
            return None
        home = str(Path(found).resolve().parent.parent)
    try:
        text = (Path(home) / "release").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("JAVA_VERSION="):
            parts = line.split("=", 1)[1].strip().strip('"').split(".")
            major = parts[1] if parts[0] == "1" else parts[0]  # "1.8.0" is Java 8
            return int(major) if major.isdigit() else None
    return None


def gc_locker_options(major: int | None) -> list[str]:
    """G1 on Java 17 and 21 gives up an allocation after waiting twice for native code (gzip,
    zstd, snappy) to leave a JNI critical section, and throws OutOfMemoryError with the heap far
    from full: a 10M-event night died so in normalize ("Retried waiting for GCLocker too often"),
    and the same data ran through on the next try. More retries make such a wait a pause, not a
    failure. Java 22 pins regions instead and dropped the flag; an unknown -XX flag stops the JVM
    from starting, so it is given only where it exists."""
    if major is None or not 17 <= major <= 21:
        return []
    return ["-XX:+UnlockDiagnosticVMOptions", "-XX:GCLockerRetryAllocationCount=100"]


def java_options(config: Config, driver: bool) -> str:
    """The JVM options of a driver or executor: the project's own, the class archive (driver),
    then the config's `jvm_options` (for -XX flags the last one given wins)."""
    # Whole-stage code of a wide select (a contract's columns and checks) easily exceeds
    # the JVM's 8,000-byte limit for JIT-compiling a method, and then runs interpreted:
    # measured, parsing the collector's JSON took twice as long without this flag.
    own = ["-XX:-DontCompileHugeMethods"]
    if driver:
        # The driver's only: the file is checked here, on the driver's machine, and a cluster's
        # executors run on machines (and images) of their own; so is the Java version.
        own = [f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties').as_uri()}",
               *own, *gc_locker_options(java_major()), *class_archive_options(config)]
    return " ".join([*own, config.spark.jvm_options]).strip()


def spark_submit() -> Path:
    import pyspark  # the installed PySpark's own launcher, whatever PATH holds

    return Path(pyspark.__file__).parent / "bin" / "spark-submit"


_PROBE = """
import sys
from pathlib import Path
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.extraJavaOptions", "-XX:SharedArchiveFile=" + sys.argv[1]).getOrCreate())
maps = Path("/proc/%d/maps" % spark._jvm.java.lang.ProcessHandle.current().pid())
print("mapped" if not maps.exists() or sys.argv[1] in maps.read_text() else "not mapped")
"""


def _archive_problem(archive: Path, workdir: Path) -> str | None:
    """Start a session on the archive: None if the JVM started and mapped it, else why not."""
    done = subprocess.run([sys.executable, "-c", _PROBE, str(archive)], capture_output=True, text=True, cwd=workdir,
                          env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}, timeout=300)
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines and lines[-1] == "mapped":
        return None
    if done.returncode == 0:
        return "a new JVM started but did not map it (another JVM or class path?)"
    # the JVM's crash banner ("#  SIGBUS ...") says more than PySpark's traceback
    said = [ln.strip("# ") for ln in (done.stdout + done.stderr).splitlines() if ln.startswith("#  ")]
    return f"a JVM started on it failed: {' '.join(said[:2]) or (done.stdout + done.stderr).strip()[-300:]}"


def build_class_archive(config: Config, out: str | Path, customers: int = 20) -> dict:
    """Run one generated tiny date through every step in a single spark-submit JVM that writes
    the classes it loaded to `out` when it exits. The archive is written next to `out` and
    renamed into place, so a reader never maps half a file."""
    from jobs.generator import generate

    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="journeys-class-archive-") as tmp:
        root = Path(tmp)
        generate(root / "raw", customers=customers, days=1, seed=1)
        day = min(date.fromisoformat(p.name.split("=", 1)[1]) for p in (root / "raw").glob("*/arrival_date=*"))
        partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        # the training run maps no archive (a JVM cannot dump on top of a dynamic one) and
        # keeps quiet about the classes the dump leaves out (generated and signed-jar classes)
        dump = f"-XX:ArchiveClassesAtExit={partial} -Xlog:cds=off -Xlog:cds+dynamic=off"
        training = config.with_overrides(
            warehouse=str(root / "warehouse"),
            sources={name: {"path": str(root / "raw" / name)} for name in type(config.sources).model_fields},
            spark={"master": "local[2]", "shuffle_partitions": 2, "class_archive": "",
                   "jvm_options": f"{_SHORT_RUN} {config.spark.jvm_options} {dump}".strip()})
        config_file = root / "journeys.yaml"
        config_file.write_text(yaml.safe_dump(training.model_dump(mode="json"), sort_keys=False))
        env = {**os.environ, "SPARK_SUBMITTED": "1", "PYSPARK_PYTHON": sys.executable,
               "SPARK_LOCAL_IP": "127.0.0.1", training.pii.key_env: os.urandom(24).hex()}
        # spark-submit, not an in-process session: the JVM is then this call's child, and the
        # call returns only after the JVM has exited, which is when the archive is written
        cmd = [str(spark_submit()), "--master", "local[2]", "--driver-memory", training.spark.driver_memory,
               "--driver-java-options", java_options(training, driver=True), "--conf", "spark.ui.enabled=false",
               str(Path(__file__).with_name("steps.py")), "all", "--date", day.isoformat(),
               "--config", str(config_file)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not partial.is_file():
            partial.unlink(missing_ok=True)
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise RuntimeError(f"the training run for the class archive exited with {done.returncode}"
                               f"{'' if partial.is_file() else ' and wrote no archive'}:\n{tail}")
        partial.chmod(0o644)
        # a damaged archive (a full disk during the dump) would crash every JVM that maps it
        problem = _archive_problem(partial, root)
        if problem:
            partial.unlink(missing_ok=True)
            raise RuntimeError(f"the class archive the training run wrote is not usable: {problem}")
        os.replace(partial, out)
    return {"archive": str(out), "bytes": out.stat().st_size, "training_date": day.isoformat(),
            "seconds": round(time.monotonic() - started, 1)}
