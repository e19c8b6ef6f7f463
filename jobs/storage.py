"""All reading and writing: raw zone in, warehouse tables out.

Raw files are listed and checked with fsspec (any URI: local, s3://, sftp://...);
Spark reads and writes the data. Table partitions are published by writing to a
staging folder and renaming whole partition folders into place, so readers see
either the old or the new partition, and partitions a rerun no longer produces
are removed.
"""
from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import PurePosixPath

import fsspec
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import faults
from jobs.contracts import table_contract

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class RawFile:
    uri: str            # full URI Spark reads
    relative: str       # path below the source root, recorded with every row
    size: int
    sha256: str
    problem: str | None  # why the file cannot be read to the end, if it cannot


def arrival_folder(source_root: str, arrival_date: date) -> str:
    return f"{source_root.rstrip('/')}/arrival_date={arrival_date.isoformat()}"


def _check_and_hash(fs, path: str) -> tuple[str, str | None]:
    """sha256 of the bytes, and for gzip whether it decompresses to the end."""
    digest = hashlib.sha256()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if path.endswith(".gz") else None
    problem = None
    with fs.open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if inflater is not None and problem is None:
                try:
                    inflater.decompress(chunk)
                    while inflater.eof and inflater.unused_data:  # concatenated gzip members
                        rest = inflater.unused_data
                        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        inflater.decompress(rest)
                except zlib.error as exc:
                    problem = f"gzip data is corrupt: {exc}"
    if inflater is not None and problem is None and not inflater.eof:
        problem = "gzip stream ends early (truncated file)"
    return digest.hexdigest(), problem


def list_raw_files(source_root: str, arrival_date: date) -> list[RawFile]:
    """Files of one arrival folder, sorted, each hashed and checked; [] when the folder is absent."""
    folder = arrival_folder(source_root, arrival_date)
    fs, root = fsspec.core.url_to_fs(folder)
    if not fs.exists(root):
        return []
    found = []
    for info in sorted(fs.find(root, detail=True).values(), key=lambda i: i["name"]):
        name = info["name"]
        base = PurePosixPath(name).name
        if base.startswith((".", "_")) or info.get("type") == "directory":
            continue  # hidden, _SUCCESS and similar markers are not data
        digest, problem = _check_and_hash(fs, name)
        relative = f"arrival_date={arrival_date.isoformat()}/{PurePosixPath(name).relative_to(root)}"
        uri = name if "://" in folder else fs.unstrip_protocol(name)
        found.append(RawFile(uri=uri, relative=relative, size=int(info["size"]), sha256=digest, problem=problem))
    return found


def first_lines(files: list[RawFile]) -> list[tuple[str, str]]:
    """(relative path, first line) of each file, read on the driver: CSV headers without a Spark pass."""
    out = []
    for f in files:
        with fsspec.open(f.uri, "rb", compression="infer") as fh:
            line = fh.readline().decode("utf-8", errors="replace").rstrip("\r\n")
        out.append((f.relative, line))
    return out


def _relative_path(file_path):
    return F.regexp_extract(file_path, r"(arrival_date=[^/]+/.*)$", 1)


def read_raw_lines(spark: SparkSession, files: list[RawFile], max_lines_per_task: int | None = None) -> DataFrame:
    """Lines of text files with their 1-based line numbers.

    Rows of one input split arrive in file order with consecutive
    monotonically_increasing_id values, so a line's number is its id's distance from the
    split's first id plus the lines of the file's earlier splits. One small aggregate (a
    row per split) gives both; numbering by a window over each file instead shuffled every
    raw line and sorted each file in one task. Right for split and compressed files alike.

    A gzip file is one split however large, read by one task: a 200 MB file of 2.5M lines
    made partitions of several GB, which a persisted frame read back from disk in one heap
    buffer (OutOfMemoryError with an 8 GB driver). When any split holds more than
    `max_lines_per_task` lines, the lines are spread over enough tasks by hashing their file
    and line number (deterministic, unlike a round-robin).
    """
    if not files:
        return spark.createDataFrame([], "source_file string, source_line long, value string, raw_bytes long")
    raw = spark.read.text([f.uri for f in files]).select(
        "value",
        _relative_path(F.col("_metadata.file_path")).alias("source_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_pos"),
    )
    splits = sorted(raw.groupBy("source_file", "_block").agg(F.min("_pos").alias("_first"), F.count("*").alias("_n"))
                    .collect(), key=lambda r: (r["source_file"], r["_block"]))
    offsets, before, file = [], 0, None
    for row in splits:
        if row["source_file"] != file:
            file, before = row["source_file"], 0
        offsets.append((row["source_file"], row["_block"], before + 1 - row["_first"]))
        before += row["_n"]
    shift = spark.createDataFrame(offsets, "source_file string, _block long, _shift long")
    lines = raw.join(F.broadcast(shift), ["source_file", "_block"], "inner").select(
        "source_file",
        (F.col("_pos") + F.col("_shift")).alias("source_line"),
        "value",
        F.octet_length("value").cast("long").alias("raw_bytes"),
    )
    if max_lines_per_task and max((row["_n"] for row in splits), default=0) > max_lines_per_task:
        tasks = max(-(-sum(row["_n"] for row in splits) // max_lines_per_task), spark.sparkContext.defaultParallelism)
        lines = lines.repartition(tasks, "source_file", "source_line")
    return lines


def read_raw_rows(spark: SparkSession, files: list[RawFile]) -> DataFrame:
    """Rows of Parquet exports with 1-based row numbers."""
    df = spark.read.parquet(*[f.uri for f in files])
    data_cols = [f"`{c}`" for c in df.columns]
    return df.select(
        _relative_path(F.col("_metadata.file_path")).alias("source_file"),
        (F.col("_metadata.row_index") + 1).cast("long").alias("source_line"),
        *data_cols,
    )


def table_path(warehouse: str, table: str) -> str:
    return f"{warehouse.rstrip('/')}/{table}"


def read_table(spark: SparkSession, warehouse: str, table: str) -> DataFrame | None:
    """A published table with its contract schema, or None before its first write."""
    path = table_path(warehouse, table)
    if not _hadoop_fs(spark, path).exists(_hpath(spark, path)):
        return None
    contract = table_contract(table)
    return spark.read.schema(contract.spark_schema()).option("basePath", path).parquet(path)


def history_event_ids(spark: SparkSession, warehouse: str, arrival_date: date, lookback_days: int) -> DataFrame | None:
    """Event ids published by earlier arrivals whose event dates a new arrival can still touch:
    in events, or set aside in bots (a bot's event delivered again is a duplicate too)."""
    low, high = arrival_date - timedelta(days=lookback_days), arrival_date + timedelta(days=1)
    found = []
    for table in ("events", "bots"):
        df = read_table(spark, warehouse, table)
        if df is not None:
            found.append(df.where(F.col("event_date").between(F.lit(low), F.lit(high))
                                  & (F.col("arrival_date") < F.lit(arrival_date))).select("event_id"))
    if not found:
        return None
    return (found[0] if len(found) == 1 else found[0].unionByName(found[1])).distinct()


# ---------------------------------------------------------------- publishing


def _hpath(spark: SparkSession, path: str):
    return spark._jvm.org.apache.hadoop.fs.Path(path)


def _hadoop_fs(spark: SparkSession, path: str):
    return _hpath(spark, path).getFileSystem(spark._jsc.hadoopConfiguration())


def _partition_dirs(spark: SparkSession, root: str, pattern: str) -> dict[str, object]:
    fs = _hadoop_fs(spark, root)
    statuses = fs.globStatus(_hpath(spark, f"{root}/{pattern}")) or []
    return {str(s.getPath().toUri().getPath())[len(_hpath(spark, root).toUri().getPath()) + 1:]: s.getPath()
            for s in statuses if s.isDirectory()}


def staging_root(warehouse: str, arrival_date: date) -> str:
    return f"{warehouse.rstrip('/')}/_staging/arrival_date={arrival_date.isoformat()}"


def stage_table(df: DataFrame, root: str, table: str, sort_by: list[str], owned: dict) -> None:
    """Write a table's new partitions below the staging root, and what the run owns:
    owned = {"glob": "event_date=*", "from": "2026-01-05" (optional lower bound on the
    partition folder name), "partitions": [...] (optional, exact folder names)}."""
    contract = table_contract(table)
    parts = list(contract.partition_by)
    (df.select(*contract.column_names)
       .repartition(*parts)
       .sortWithinPartitions(*parts, *sort_by)
       .write.mode("overwrite").partitionBy(*parts).parquet(f"{root}/{table}"))
    write_json(f"{root}/_owned/{table}.json", {"table": table, **owned})
    faults.point("stage.table_staged")


def read_json(uri: str) -> dict | None:
    fs, path = fsspec.core.url_to_fs(uri)
    if not fs.exists(path):
        return None
    with fs.open(path, "r") as fh:
        return json.load(fh)


def staged_tables(root: str) -> list[dict]:
    fs, path = fsspec.core.url_to_fs(f"{root}/_owned")
    if not fs.exists(path):
        return []
    out = []
    for name in sorted(fs.ls(path, detail=False)):
        with fs.open(name, "r") as fh:
            out.append(json.load(fh))
    return out


def read_staged(spark: SparkSession, root: str, table: str) -> DataFrame | None:
    path = f"{root}/{table}"
    if not _hadoop_fs(spark, path).exists(_hpath(spark, path)):
        return None
    return spark.read.schema(table_contract(table).spark_schema()).option("basePath", path).parquet(path)


# ---------------------------------------------------------------- publishing: a journal, then renames
#
# A commit is decided in full before the warehouse is touched: `begin_commit` writes the
# journal (every partition to move in, every stale partition to delete, every file to place)
# into the staging root, then `apply_commit` carries it out, one directory rename per
# partition. Each action can be repeated or skipped once done, so a commit killed at any
# point is finished by applying its journal again (`recover`, which every step of that date
# runs first). Readers see, per partition, the old folder, the new one, or for the instant
# between two renames none, never a mix and never a half-written file.

COMMIT_JOURNAL = "_commit.json"


def _owned_partitions(spark: SparkSession, warehouse: str, owned: dict) -> dict[str, object]:
    target = table_path(warehouse, owned["table"])
    if not _hadoop_fs(spark, target).exists(_hpath(spark, target)):
        return {}
    old = _partition_dirs(spark, target, owned["glob"])
    if owned.get("from") is not None:
        old = {k: v for k, v in old.items() if k.split("/")[0].split("=", 1)[1] >= owned["from"]}
    if owned.get("partitions") is not None:
        old = {k: v for k, v in old.items() if k in set(owned["partitions"])}
    return old


def plan_commit(spark: SparkSession, warehouse: str, root: str) -> list[dict]:
    """Per staged table: the partitions to move in and the owned ones no longer produced."""
    tables = []
    for owned in staged_tables(root):
        table = owned["table"]
        depth = len(table_contract(table).partition_by)
        new = sorted(_partition_dirs(spark, f"{root}/{table}", "/".join(["*"] * depth)))
        old = _owned_partitions(spark, warehouse, owned)
        # the rerun produced no rows there: the stale partition goes
        tables.append({"table": table, "moves": new, "stale": sorted(set(old) - set(new))})
    return tables


def begin_commit(root: str, tables: list[dict], files: list[dict] | None = None) -> dict:
    """Write the journal of everything the commit will do. `files`: [{"src", "dst"}] single
    files to place (pipeline_runs rows, the run manifest); an existing dst is kept."""
    journal = {"tables": tables, "files": files or []}
    write_json(f"{root}/{COMMIT_JOURNAL}", journal)
    return journal


def read_commit(root: str) -> dict | None:
    return read_json(f"{root}/{COMMIT_JOURNAL}")


def apply_commit(spark: SparkSession, warehouse: str, root: str, journal: dict) -> list[str]:
    """Carry out (or finish) a journal. Returns one line per table: partitions written."""
    written = []
    for entry in journal["tables"]:
        table = entry["table"]
        target = table_path(warehouse, table)
        fs = _hadoop_fs(spark, target)
        fs.mkdirs(_hpath(spark, target))
        for rel in entry["moves"]:
            src, dst = _hpath(spark, f"{root}/{table}/{rel}"), _hpath(spark, f"{target}/{rel}")
            if not fs.exists(src):  # moved by the attempt that was interrupted
                continue
            fs.mkdirs(dst.getParent())
            if fs.exists(dst):
                parked = _hpath(spark, f"{root}/_trash/{table}/{rel}")
                if fs.exists(parked):
                    fs.delete(parked, True)
                fs.mkdirs(parked.getParent())
                fs.rename(dst, parked)
                faults.point("publish.old_partition_parked")
            if not fs.rename(src, dst):
                raise IOError(f"could not move {src} to {dst}")
            faults.point("publish.partition_moved")
        for rel in entry["stale"]:
            stale = _hpath(spark, f"{target}/{rel}")
            if fs.exists(stale):
                fs.delete(stale, True)
        written.append(f"{table}: {len(entry['moves'])} partition(s)")
        faults.point("publish.table_committed")
    for item in journal["files"]:
        src, dst = _hpath(spark, item["src"]), _hpath(spark, item["dst"])
        fs = _hadoop_fs(spark, item["dst"])
        if fs.exists(src) and not fs.exists(dst):
            fs.mkdirs(dst.getParent())
            if not fs.rename(src, dst):
                raise IOError(f"could not move {src} to {dst}")
        faults.point("publish.file_placed")
    return written


def recover(spark: SparkSession, warehouse: str, arrival_date: date) -> list[str] | None:
    """Finish a publish of this date that was interrupted after its journal was written.
    Returns what it moved, or None when there was nothing to finish."""
    root = staging_root(warehouse, arrival_date)
    # pipeline_runs rows of a failed attempt that was killed before they were placed
    for rel, path in _partition_dirs(spark, f"{warehouse.rstrip('/')}/_staging",
                                     f"_runs-{arrival_date.isoformat()}-*").items():
        _hadoop_fs(spark, root).delete(path, True)
    journal = read_commit(root)
    if journal is None:
        return None
    written = apply_commit(spark, warehouse, root, journal)
    drop_staging(spark, root)
    return written


def drop_staging(spark: SparkSession, root: str) -> None:
    fs = _hadoop_fs(spark, root)
    if fs.exists(_hpath(spark, root)):
        fs.delete(_hpath(spark, root), True)


def publish(spark: SparkSession, df: DataFrame, warehouse: str, table: str, owned: str, run_id: str,
            sort_by: list[str]) -> list[str]:
    """Stage and commit one table in one go (tests and tools that write a single table)."""
    root = f"{warehouse.rstrip('/')}/_staging/{run_id}"
    stage_table(df, root, table, sort_by, {"glob": owned})
    journal = begin_commit(root, plan_commit(spark, warehouse, root))
    apply_commit(spark, warehouse, root, journal)
    drop_staging(spark, root)
    return journal["tables"][0]["moves"]


# ---------------------------------------------------------------- internal state snapshots


def state_path(warehouse: str, name: str, key: str, value: str) -> str:
    return f"{warehouse.rstrip('/')}/_state/{name}/{key}={value}"


def write_state(df: DataFrame, warehouse: str, name: str, key: str, value: str) -> None:
    df.coalesce(max(1, df.sparkSession.sparkContext.defaultParallelism)).write.mode("overwrite").parquet(
        state_path(warehouse, name, key, value))


def read_state(spark: SparkSession, warehouse: str, name: str, key: str, at_most: str,
               schema: str) -> tuple[str | None, DataFrame]:
    """The latest snapshot whose key value is <= at_most, or (None, empty frame)."""
    root = f"{warehouse.rstrip('/')}/_state/{name}"
    found = sorted(v.split("=", 1)[1] for v in _partition_dirs(spark, root, f"{key}=*")) \
        if _hadoop_fs(spark, root).exists(_hpath(spark, root)) else []
    usable = [v for v in found if v <= at_most
              and _hadoop_fs(spark, root).exists(_hpath(spark, f"{root}/{key}={v}/_SUCCESS"))]
    if not usable:
        return None, spark.createDataFrame([], schema)
    return usable[-1], spark.read.schema(schema).parquet(state_path(warehouse, name, key, usable[-1]))


def latest_state(spark: SparkSession, warehouse: str, name: str, key: str) -> str | None:
    """The newest complete snapshot's key value, or None."""
    root = f"{warehouse.rstrip('/')}/_state/{name}"
    fs = _hadoop_fs(spark, root)
    if not fs.exists(_hpath(spark, root)):
        return None
    done = [rel.split("=", 1)[1] for rel in _partition_dirs(spark, root, f"{key}=*")
            if fs.exists(_hpath(spark, f"{root}/{rel}/_SUCCESS"))]
    return max(done) if done else None


def prune_state(spark: SparkSession, warehouse: str, name: str, key: str, keep_from: str) -> None:
    root = f"{warehouse.rstrip('/')}/_state/{name}"
    if not _hadoop_fs(spark, root).exists(_hpath(spark, root)):
        return
    for rel, path in _partition_dirs(spark, root, f"{key}=*").items():
        if rel.split("=", 1)[1] < keep_from:
            _hadoop_fs(spark, root).delete(path, True)


def stage_runs(spark: SparkSession, rows: list[dict], folder: str) -> str:
    """pipeline_runs rows as one Parquet file below `folder`; returns the file's URI."""
    contract = table_contract("pipeline_runs")
    df = spark.createDataFrame(rows, contract.spark_schema()).drop(*contract.partition_by)
    df.coalesce(1).write.mode("overwrite").parquet(folder)
    fs = _hadoop_fs(spark, folder)
    parts = [s.getPath() for s in fs.listStatus(_hpath(spark, folder)) if s.getPath().getName().endswith(".parquet")]
    return str(parts[0].toUri())


def runs_file(warehouse: str, run_date: date, run_id: str, step: str) -> str:
    """Where a run's pipeline_runs rows land: named by run, so placing them twice is a no-op."""
    return f"{table_path(warehouse, 'pipeline_runs')}/run_date={run_date.isoformat()}/part-{run_id}-{step}.parquet"


def append_runs(spark: SparkSession, warehouse: str, rows: list[dict], step: str = "runs") -> None:
    """Add pipeline_runs rows: per run and date one file, staged, then renamed into place."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["run_id"], row["run_date"]), []).append(row)
    for (run_id, day), group in sorted(groups.items()):
        folder = f"{warehouse.rstrip('/')}/_staging/_runs-{run_id}-{step}"
        src = stage_runs(spark, group, folder)
        dst = runs_file(warehouse, day, run_id, step)
        fs = _hadoop_fs(spark, dst)
        fs.mkdirs(_hpath(spark, dst).getParent())
        if not fs.exists(_hpath(spark, dst)) and not fs.rename(_hpath(spark, src), _hpath(spark, dst)):
            raise IOError(f"could not move {src} to {dst}")
        drop_staging(spark, folder)


def write_json(uri: str, payload: dict) -> None:
    """Written whole or not at all: to a temporary name beside the target, then renamed."""
    fs, path = fsspec.core.url_to_fs(uri)
    parent, name = path.rsplit("/", 1)
    fs.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{name}.{uuid.uuid4().hex}.tmp"
    with fs.open(tmp, "w") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True, default=str)
    fs.mv(tmp, path)


def manifest(files: list[RawFile]) -> list[dict]:
    return [asdict(f) for f in files]
