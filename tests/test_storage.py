"""Publishing replaces exactly the partitions a run owns; raw files are listed and checked."""
import gzip
from datetime import date, datetime

from jobs.contracts import table_contract
from jobs.storage import list_raw_files, publish, read_raw_lines, read_table


def _events(spark, rows):
    """Minimal valid events rows: (event_id, event_date, arrival_date)."""
    schema = table_contract("events").spark_schema()
    full = []
    for event_id, event_day, arrival in rows:
        at = datetime.combine(event_day, datetime.min.time())
        full.append((event_id, "clickstream", event_id, "web", "page_view", "web:/", at, at, "a", None, None,
                     None, None, None, "desktop", "/", None, None, None, None, None, None, None, None, None, {},
                     False, "f", 1, event_day, arrival))
    return spark.createDataFrame(full, schema)


def test_rerun_replaces_owned_partitions_and_removes_stale_ones(spark, tmp_path):
    wh = str(tmp_path / "wh")
    d1, d2, d3 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
    publish(spark, _events(spark, [("a", d1, d2), ("b", d2, d2)]), wh, "events",
            f"event_date=*/arrival_date={d2}", "run-1", ["event_id"])
    publish(spark, _events(spark, [("c", d2, d3)]), wh, "events", f"event_date=*/arrival_date={d3}", "run-2",
            ["event_id"])
    # rerun of d2 now yields only an event on d2: the (d1, d2) partition must disappear, d3's stays
    publish(spark, _events(spark, [("b2", d2, d2)]), wh, "events", f"event_date=*/arrival_date={d2}", "run-3",
            ["event_id"])
    got = sorted((r.event_id, r.event_date, r.arrival_date) for r in read_table(spark, wh, "events").collect())
    assert got == [("b2", d2, d2), ("c", d2, d3)]
    assert not (tmp_path / "wh" / "events" / f"event_date={d1}").exists() or not any(
        (tmp_path / "wh" / "events" / f"event_date={d1}").iterdir())
    assert not (tmp_path / "wh" / "_staging" / "run-3").exists()


def test_empty_rerun_removes_the_runs_partitions(spark, tmp_path):
    wh = str(tmp_path / "wh")
    d = date(2026, 1, 5)
    publish(spark, _events(spark, [("a", d, d)]), wh, "events", f"event_date=*/arrival_date={d}", "r1", ["event_id"])
    publish(spark, _events(spark, []), wh, "events", f"event_date=*/arrival_date={d}", "r2", ["event_id"])
    assert read_table(spark, wh, "events").count() == 0


def test_raw_listing_hashes_and_flags_truncated_gzip(tmp_path):
    folder = tmp_path / "clickstream" / "arrival_date=2026-01-05"
    folder.mkdir(parents=True)
    whole = gzip.compress(b"line\n" * 1000, mtime=0)
    (folder / "a.ndjson.gz").write_bytes(whole)
    (folder / "b.ndjson.gz").write_bytes(whole[: len(whole) // 2])
    (folder / "c.ndjson").write_bytes(b"")
    (folder / "_SUCCESS").write_bytes(b"")
    files = list_raw_files(str(tmp_path / "clickstream"), date(2026, 1, 5))
    assert [f.relative for f in files] == ["arrival_date=2026-01-05/a.ndjson.gz", "arrival_date=2026-01-05/b.ndjson.gz",
                                           "arrival_date=2026-01-05/c.ndjson"]
    assert [f.problem is None for f in files] == [True, False, True]
    assert len(files[0].sha256) == 64 and files[0].size == len(whole)
    assert list_raw_files(str(tmp_path / "clickstream"), date(2026, 1, 6)) == []


def test_a_large_gzip_file_is_spread_over_tasks_with_its_line_numbers(spark, tmp_path):
    """One gzip file is one input split, read by one task; above max_lines_per_task its lines
    are hashed over several partitions, numbered as in the file, none lost or doubled."""
    folder = tmp_path / "src" / "arrival_date=2026-01-05"
    folder.mkdir(parents=True)
    (folder / "big.ndjson.gz").write_bytes(gzip.compress("".join(f"{i}\n" for i in range(1, 20_001)).encode(), mtime=0))
    (folder / "small.ndjson").write_text("1\n2\n")
    files = list_raw_files(str(tmp_path / "src"), date(2026, 1, 5))
    assert read_raw_lines(spark, files).rdd.getNumPartitions() == 2  # as read: one split per file
    lines = read_raw_lines(spark, files, max_lines_per_task=4_000)
    sizes = lines.rdd.glom().map(len).collect()
    assert len(sizes) == 6 and sum(sizes) == 20_002 and max(sizes) < 2 * 4_000, sizes
    assert lines.where("cast(value as long) != source_line").count() == 0
    assert lines.select("source_file", "source_line").distinct().count() == 20_002
    assert read_raw_lines(spark, files, max_lines_per_task=20_000).rdd.getNumPartitions() == 2  # small enough: as read


def test_line_numbers_follow_file_order_across_splits(spark, tmp_path):
    folder = tmp_path / "src" / "arrival_date=2026-01-05"
    folder.mkdir(parents=True)
    (folder / "big.ndjson").write_text("".join(f"{i}\n" for i in range(1, 200_001)))
    (folder / "small.ndjson.gz").write_bytes(gzip.compress(b"1\n2\n3\n", mtime=0))
    files = list_raw_files(str(tmp_path / "src"), date(2026, 1, 5))
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")  # force many splits of the big file
    try:
        lines = read_raw_lines(spark, files)
        bad = lines.where("cast(value as long) != source_line").count()
        assert bad == 0 and lines.count() == 200_003
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
