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
                            "skew": {"events": 10_000_000, "bot_events": 2_000_000, "ratio": 1.2,
                                     "pipeline": {"seconds": 840.0, "rows_bot": 2_000_000}}})
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:] if line.startswith("| ")}
    assert rows["pipeline, 10M events (10,000,000 raw rows)"].endswith("| ≤ 600 s | **no** |")
    assert rows["pipeline / I/O floor, 1M"].endswith("| 5.0x | ≤ 4x | **no** |")
    assert rows["pipeline / I/O floor, 10M"].endswith("| 3.5x | ≤ 4x | yes |")
    assert rows["time(10M) / time(1M)"].endswith("| 7.0 | ≤ 11 | yes |")
    assert "2,000,000" in rows["bot rows set aside (rows_bot)"]
    assert "shuffle partitions, 1M" not in rows  # older results without the figure still render


def test_the_breakdown_gives_each_run_its_steps_phases_and_rows():
    def run(seconds, build, rows_bot):
        return {"seconds": seconds, "rows_in": 1000, "rows_out": 900, "rows_quarantined": 50,
                "rows_duplicate": 30, "rows_bot": rows_bot, "bots_table_rows": rows_bot, "balanced": rows_bot < 100,
                "peak_rss_mb": 1.0,
                "steps": ["normalize: 1,000 rows in, 900 out (12.5 s)", f"build: 3 customers ({build} s)",
                          "validate: 10 of 10 output suites passed (4.0 s)", "publish: 12 tables moved into place (0.5 s)"],
                "build_phases": {"identity": 1.25, "analytics": build - 1.25}}
    sizes = [{"events": 1_000_000, "pipeline": run(20.0, 3.0, 20), "floor": {"seconds": 2.0}, "floor_multiple": 10.0,
              "events_per_second_per_core": 1}]
    table = suite.markdown({"sizes": sizes, "skew": {"events": 1_000_000, "bot_events": 500, "ratio": 1.5,
                                                     "pipeline": run(30.0, 7.5, 520)}})
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert rows["step"] == "| step | 1M | 1M + bot |"
    assert rows["normalize"] == "| normalize | 12.5 s | 12.5 s |"
    assert rows["build"] == "| build | 3.0 s | 7.5 s |"
    assert rows["build: analytics"] == "| build: analytics | 1.8 s | 6.2 s |"
    assert rows["whole day"] == "| whole day | 20.0 s | 30.0 s |"
    assert rows["in the bots table"] == "| in the bots table | 20 | 520 |"
    assert rows["balanced"] == "| balanced | yes | **no** |"
    assert rows["bot day, 1M events + bot"].startswith("| bot day, 1M events + bot | 30 s |")
    # a line without a time (an older run's format) is left out, not misread
    assert suite.step_seconds({"steps": ["normalize: done"]}) == {}


def test_an_earlier_run_is_rendered_again_from_its_json(tmp_path):
    import subprocess
    import sys

    results = {"sizes": [{"events": 1_000_000, "pipeline": {"seconds": 300.0, "rows_in": 5, "peak_rss_mb": 1.0},
                          "floor": {"seconds": 5.94}, "floor_multiple": 50.5, "events_per_second_per_core": 1}]}
    (tmp_path / "suite.json").write_text(json.dumps(results))
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "suite.py"), "--render", str(tmp_path / "suite.json")],
                         capture_output=True, text=True, check=True).stdout
    assert out == suite.markdown(results)
    assert "| I/O floor, 1M | 5.9 s | | |" in out and "| whole day | 300.0 s |" in out
