"""The skew guard: ids above bots.max_events_per_day go to `bots`, counted in the books."""
from datetime import date

import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyspark.sql import functions as F

from jobs.normalize import classify

D1, D2 = date(2026, 1, 5), date(2026, 1, 6)


def _classified(spark, rows):
    """(event_id, anonymous_id, user_id, event_date, outcome)"""
    return spark.createDataFrame(rows, "event_id string, anonymous_id string, user_id string, event_date date, "
                                       f"{classify.OUTCOME} string")


def _mark_bots(classified, id_columns, max_events_per_day):
    return classify.mark_bots(classified, classify.heavy_ids(classified, id_columns, max_events_per_day), id_columns)


def test_ids_above_the_threshold_on_a_date_become_bot_rows(spark):
    rows = ([(f"a{i}", "dev-bot", None, D1, "out") for i in range(6)]          # 6 on D1: a bot that day
            + [(f"b{i}", "dev-bot", None, D2, "out") for i in range(2)]        # 2 on D2: not that day
            + [(f"c{i}", f"dev-{i}", "user-hot", D1, "out") for i in range(4)]  # 4 devices, one login: a bot
            + [("d0", "dev-x", None, D1, "out"), ("d1", "dev-x", None, D1, "out")]
            + [(f"q{i}", "dev-bot", None, D1, "quarantined") for i in range(5)]  # not accepted: not counted, kept
            + [("z", "dev-bot", None, D1, "duplicate")])
    got = _mark_bots(_classified(spark, rows), ["anonymous_id", "user_id"], 3)
    by_id = {r.event_id: r for r in got.collect()}
    assert len(by_id) == len(rows)
    bots = {k for k, r in by_id.items() if r[classify.OUTCOME] == "bot"}
    assert bots == {f"a{i}" for i in range(6)} | {f"c{i}" for i in range(4)}
    assert {(by_id[k]._bot_id_type, by_id[k]._bot_id, by_id[k]._bot_events) for k in bots} == {
        ("anonymous_id", "dev-bot", 6), ("user_id", "user-hot", 4)}
    assert by_id["q0"][classify.OUTCOME] == "quarantined" and by_id["z"][classify.OUTCOME] == "duplicate"
    assert by_id["b0"][classify.OUTCOME] == "out" and by_id["d0"][classify.OUTCOME] == "out"


def test_the_first_listed_id_column_wins(spark):
    rows = [(f"e{i}", "dev-1", "user-1", D1, "out") for i in range(5)]
    got = _mark_bots(_classified(spark, rows), ["user_id", "anonymous_id"], 4)
    assert {(r._bot_id_type, r._bot_id) for r in got.collect()} == {("user_id", "user-1")}


def test_exactly_at_the_threshold_is_not_a_bot(spark):
    rows = [(f"e{i}", "dev-1", None, D1, "out") for i in range(3)]
    got = _mark_bots(_classified(spark, rows), ["anonymous_id"], 3)
    assert got.where(F.col(classify.OUTCOME) == "bot").count() == 0


def test_the_generators_bot_is_set_aside_and_counted(pipeline_warehouse):
    """The generator's crawler sends 1,000-1,800 page views a day from one device; nobody else
    comes near 500. Its events of the sample days end in `bots`, and the books still balance."""
    config, raw, summary, results = pipeline_warehouse
    wh = config.warehouse
    bots = ds.dataset(f"{wh}/bots", format="parquet", partitioning="hive").to_table().to_pylist()
    runs = ds.dataset(f"{wh}/pipeline_runs", format="parquet", partitioning="hive").to_table().to_pylist()
    normalize = [r for r in runs if r["step"] == "normalize"]
    assert bots and len(bots) == sum(r["rows_bot"] for r in normalize)
    assert all(r["rows_in"] == r["rows_out"] + r["rows_quarantined"] + r["rows_duplicate"] + r["rows_bot"]
               for r in normalize)
    assert {b["bot_id_type"] for b in bots} == {"anonymous_id"} and all(b["bot_events"] > 500 for b in bots)
    truth = pq.read_table(f"{raw}/ground_truth/events_truth.parquet",
                          columns=["source", "source_event_id", "is_bot"]).to_pylist()
    bot_ids = {t["source_event_id"] for t in truth if t["is_bot"]}
    assert {b["source_event_id"] for b in bots} <= bot_ids  # no person's event among them
    events = ds.dataset(f"{wh}/events", format="parquet", partitioning="hive").to_table(
        columns=["source_event_id"]).column(0).to_pylist()
    leaked = bot_ids & set(events)
    assert len(leaked) <= 0.05 * len(bot_ids)  # only a late tail below the threshold may pass
    print(f"\nbots: {len(bots)} events of {len({b['bot_id'] for b in bots})} device(s) set aside; "
          f"{len(leaked)} of the crawler's {len(bot_ids)} events reached events")
