"""bench/suite.py's data preparation and table (the measurements themselves are benchmarks, not tests)."""
import gzip
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bench_suite", ROOT / "bench" / "suite.py")
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)


def test_a_day_of_n_events_is_one_arrival_folder_per_source(tmp_path):
    data = suite.make_day(tmp_path, 3000, 3, seed=1)
    raw = Path(data["raw"])
    for source in suite.SOURCES:
        assert [p.name for p in (raw / source).iterdir()] == [f"arrival_date={data['date']}"]
    assert data["date"] == "2026-01-07" and not (tmp_path / "landing").exists()
    # EVENTS_PER_CUSTOMER_DAY is a calibration, not a promise; the generator adds at least one
    # crawler of up to 1,800 events a day, which dominates a day this small
    assert 0.6 * 3000 <= data["raw_rows"] <= 1.6 * 3000 + 3 * 1800
    assert data["generator_events_per_second"] > 0


def test_the_work_folder_is_created_when_missing(tmp_path):
    first, second = suite.work_folder(str(tmp_path / "not" / "yet")), suite.work_folder(str(tmp_path / "not" / "yet"))
    assert first.is_dir() and second.is_dir() and first != second and first.parent == tmp_path / "not" / "yet"


def test_shuffle_partitions_grow_with_the_day():
    assert [suite.shuffle_partitions(n) for n in (200_000, 1_000_000, 10_000_000)] == [8, 8, 80]


def test_the_bot_is_one_device_of_n_valid_collector_lines(tmp_path):
    data = suite.make_day(tmp_path, 1000, 3, seed=2)
    assert suite.add_bot(Path(data["raw"]), data["date"], 500) == 500
    bot_file = Path(data["raw"]) / "clickstream" / f"arrival_date={data['date']}" / "zz-bot.ndjson.gz"
    lines = [json.loads(x) for x in gzip.open(bot_file, "rt")]
    assert len(lines) == 500 and {x["anonymous_id"] for x in lines} == {"bench-bot-device"}
    assert len({x["event_id"] for x in lines}) == 500
    assert all(x["client_ts"].startswith(data["date"]) and x["user_id"] is None for x in lines)


def test_the_table_says_which_targets_are_met():
    sizes = [{"events": n, "pipeline": {"seconds": s, "rows_in": n, "peak_rss_mb": 900.0},
              "floor": {"seconds": f}, "floor_multiple": round(s / f, 2), "events_per_second_per_core": 1}
             for n, s, f in ((1_000_000, 100.0, 20.0), (10_000_000, 700.0, 200.0))]
    table = suite.markdown({"generator_events_per_second": 123456, "sizes": sizes,
                            "scaling": {"from": 1_000_000, "to": 10_000_000, "ratio": 7.0},
                            "skew": {"bot_events": 2_000_000, "ratio": 1.2, "pipeline": {"rows_bot": 2_000_000}}})
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert rows["pipeline, 10M events (10,000,000 raw rows)"].endswith("| ≤ 600 s | **no** |")
    assert rows["pipeline / I/O floor, 1M"].endswith("| 5.0x | ≤ 4x | **no** |")
    assert rows["pipeline / I/O floor, 10M"].endswith("| 3.5x | ≤ 4x | yes |")
    assert rows["time(10M) / time(1M)"].endswith("| 7.0 | ≤ 11 | yes |")
    assert "2,000,000" in rows["bot rows set aside (rows_bot)"]
    assert "shuffle partitions, 1M" not in rows  # older results without the figure still render
