"""Bring-your-own clickstream: a flat CSV or Parquet export mapped through the config, normalized
and published (what follows normalize does not know where events came from)."""
from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.normalize.pii import PiiKey
from jobs.pipeline import normalize
from jobs.steps import publish_step
from jobs.storage import read_table

MAPPING = {"user_id": "Visitor ID", "session_id": "Visit", "event_name": "Event Name", "event_at": "Timestamp",
           "page_path": "Page"}


def _config(base_config, tmp_path, fmt):
    return base_config.with_overrides(
        warehouse=str(tmp_path / "wh"),
        sources={"clickstream": {"path": str(tmp_path / "raw" / "clickstream"), "format": fmt,
                                 "timezone": "Europe/Berlin", "column_mapping": MAPPING},
                 **{n: {"path": str(tmp_path / "raw" / n)} for n in ("crm_customers", "crm_activities", "calls")}})


def _check(spark, config):
    events = {r.source_event_id: r for r in read_table(spark, config.warehouse, "events").collect()}
    q = read_table(spark, config.warehouse, "quarantine").collect()
    assert [r.reason_code for r in q] == ["MISSING_REQUIRED_FIELD"]
    assert len(events) == 2
    e = next(r for r in events.values() if r.event_type == "add_to_cart")
    assert e.user_id == "v1" and e.session_hint == "s1" and e.page_path == "/cart"
    assert e.event_at == datetime(2026, 3, 2, 9, 0)  # 10:00 Berlin (CET) in UTC
    assert e.attributes == {"browser": "Firefox"}
    assert len(e.source_event_id) == 64  # no id in the export: the content is the id
    runs = read_table(spark, config.warehouse, "pipeline_runs").where("source = 'clickstream'").first()
    assert (runs.rows_in, runs.rows_out, runs.rows_quarantined, runs.rows_duplicate) == (4, 2, 1, 1)


def test_csv_export_with_column_mapping(spark, base_config, tmp_path):
    folder = tmp_path / "raw" / "clickstream" / "arrival_date=2026-03-02"
    folder.mkdir(parents=True)
    (folder / "export.csv").write_text(
        "Timestamp,Visitor ID,Visit,Event Name,Page,Browser\n"
        "2026-03-02 10:00:00,v1,s1,Add To Cart,/cart,Firefox\n"
        "2026-03-02 10:00:00,v1,s1,Add To Cart,/cart,Firefox\n"      # re-exported row: a duplicate
        "2026-03-02 10:05:00,v1,s1,Page View,/home,Firefox\n"
        "2026-03-02 10:06:00,,s1,Page View,/home,Firefox\n")        # no user id
    config = _config(base_config, tmp_path, "csv")
    normalize(spark, config, date(2026, 3, 2), PiiKey(b"export-key-0123456789"))
    publish_step(spark, config, date(2026, 3, 2))
    _check(spark, config)


def test_parquet_export_with_column_mapping(spark, base_config, tmp_path):
    folder = tmp_path / "raw" / "clickstream" / "arrival_date=2026-03-02"
    folder.mkdir(parents=True)
    table = pa.table({
        "Timestamp": ["2026-03-02 10:00:00", "2026-03-02 10:00:00", "2026-03-02 10:05:00", "2026-03-02 10:06:00"],
        "Visitor ID": ["v1", "v1", "v1", None], "Visit": ["s1"] * 4,
        "Event Name": ["Add To Cart", "Add To Cart", "Page View", "Page View"],
        "Page": ["/cart", "/cart", "/home", "/home"], "Browser": ["Firefox"] * 4})
    pq.write_table(table, folder / "export.parquet")
    config = _config(base_config, tmp_path, "parquet")
    normalize(spark, config, date(2026, 3, 2), PiiKey(b"export-key-0123456789"))
    publish_step(spark, config, date(2026, 3, 2))
    _check(spark, config)
