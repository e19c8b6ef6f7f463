"""Extract: landing zone -> raw zone per source and date, idempotent, with manifests; the
CRM from the machine's real PostgreSQL, incremental on updated_at with a stored watermark."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import uuid
from datetime import date
from pathlib import Path

import fsspec
import pytest

from jobs.config import load_config
from jobs.contracts import raw_contract
from jobs.extract import ExtractError, run_extract
from jobs.extract.seed import read_versions, seed
from jobs.extract.sql import load_state

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")
D1, D2 = date(2026, 1, 5), date(2026, 1, 6)
PG_URL = os.environ.get("JOURNEYS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def make_config(tmp_path: Path, **extract):
    landing = {s: {"uri": str(tmp_path / "landing" / s)} for s in SOURCES}
    return load_config(ROOT / "config" / "journeys.yaml").with_overrides(
        warehouse=str(tmp_path / "wh"),
        sources={s: {"path": str(tmp_path / "raw" / s)} for s in SOURCES},
        extract={"landing": landing, **extract})


def deliver(tmp_path: Path, source: str, day: date, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "landing" / source / f"arrival_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def raw_listing(tmp_path: Path, source: str, day: date) -> dict[str, bytes]:
    folder = tmp_path / "raw" / source / f"arrival_date={day}"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- files


def test_files_land_in_the_arrival_folder_with_a_manifest(tmp_path):
    config = make_config(tmp_path)
    deliver(tmp_path, "calls", D1, {"calls.csv": b"call_id\nK1\n", "part/b.csv": b"x" * 5000,
                                    "_SUCCESS": b"", ".hidden": b"no"})
    result = run_extract(config, "calls", D1)
    files = raw_listing(tmp_path, "calls", D1)
    assert set(files) == {"calls.csv", "_manifest.json"}  # pattern "*": the day folder's own files only
    manifest = json.loads(files["_manifest.json"])
    assert manifest["source"] == "calls" and manifest["arrival_date"] == "2026-01-05"
    assert manifest["files"] == [{"name": "calls.csv", "size": 11,
                                  "sha256": hashlib.sha256(b"call_id\nK1\n").hexdigest()}]
    assert manifest["bytes"] == 11 and result.method == "files"
    assert not (tmp_path / "raw" / "calls" / "_extract_tmp").exists()


def test_a_recursive_pattern_keeps_subfolders(tmp_path):
    config = make_config(tmp_path).with_overrides(extract={"landing": {"clickstream": {"pattern": "**"}}})
    deliver(tmp_path, "clickstream", D1, {"a.ndjson": b"{}\n", "hour=01/b.ndjson.gz": b"\x1f\x8b"})
    run_extract(config, "clickstream", D1)
    assert set(raw_listing(tmp_path, "clickstream", D1)) == {"a.ndjson", "hour=01/b.ndjson.gz", "_manifest.json"}


def test_rerun_replaces_the_day_whole_and_is_idempotent(tmp_path):
    config = make_config(tmp_path)
    deliver(tmp_path, "crm_activities", D1, {"a.csv": b"1\n", "b.csv": b"2\n"})
    run_extract(config, "crm_activities", D1)
    first = raw_listing(tmp_path, "crm_activities", D1)
    run_extract(config, "crm_activities", D1)
    again = raw_listing(tmp_path, "crm_activities", D1)
    strip = lambda m: {k: v for k, v in json.loads(m).items() if k != "extracted_at"}  # noqa: E731
    assert {k: v for k, v in again.items() if k != "_manifest.json"} == {
        k: v for k, v in first.items() if k != "_manifest.json"}
    assert strip(again["_manifest.json"]) == strip(first["_manifest.json"])

    (tmp_path / "landing" / "crm_activities" / f"arrival_date={D1}" / "b.csv").unlink()  # a corrected delivery
    deliver(tmp_path, "crm_activities", D1, {"c.csv": b"3\n"})
    run_extract(config, "crm_activities", D1)
    assert set(raw_listing(tmp_path, "crm_activities", D1)) == {"a.csv", "c.csv", "_manifest.json"}
    assert [f["name"] for f in json.loads(raw_listing(tmp_path, "crm_activities", D1)["_manifest.json"])["files"]] \
        == ["a.csv", "c.csv"]


def test_a_purged_landing_zone_keeps_the_raw_copy(tmp_path):
    config = make_config(tmp_path)
    folder = deliver(tmp_path, "calls", D1, {"calls.csv": b"call_id\nK1\n"})
    run_extract(config, "calls", D1)
    (folder / "calls.csv").unlink()
    folder.rmdir()
    result = run_extract(config, "calls", D1)
    assert result.method == "kept"
    assert raw_listing(tmp_path, "calls", D1)["calls.csv"] == b"call_id\nK1\n"


def test_missing_delivery_is_recorded_empty_or_fails_when_required(tmp_path):
    config = make_config(tmp_path)
    result = run_extract(config, "calls", D2)
    assert result.files == [] and "no delivery" in result.note
    assert json.loads(raw_listing(tmp_path, "calls", D2)["_manifest.json"])["file_count"] == 0
    strict = config.with_overrides(extract={"landing": {"calls": {"required": True}}})
    with pytest.raises(ExtractError, match=r"calls: no delivery for 2026-01-06 in .*landing/calls"):
        run_extract(strict, "calls", D2)


def test_a_failed_copy_leaves_the_previous_delivery_in_place(tmp_path, monkeypatch):
    from jobs.extract import files as files_mod

    config = make_config(tmp_path)
    deliver(tmp_path, "calls", D1, {"a.csv": b"old\n"})
    run_extract(config, "calls", D1)
    deliver(tmp_path, "calls", D1, {"a.csv": b"new\n", "b.csv": b"new\n"})
    real, calls = files_mod.copy_hashed, []

    def failing_on_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("connection reset by landing server")
        return real(*args)

    monkeypatch.setattr(files_mod, "copy_hashed", failing_on_second)
    with pytest.raises(OSError, match="connection reset"):
        run_extract(config, "calls", D1)
    assert raw_listing(tmp_path, "calls", D1)["a.csv"] == b"old\n"
    assert "b.csv" not in raw_listing(tmp_path, "calls", D1)
    assert not (tmp_path / "raw" / "calls" / "_extract_tmp").exists()


def test_any_fsspec_uri_and_date_templates(tmp_path):
    bucket = f"memory://journeys-{uuid.uuid4().hex[:8]}"
    config = make_config(tmp_path).with_overrides(
        sources={"calls": {"path": f"{bucket}/raw/calls"}},
        extract={"landing": {"calls": {"uri": f"{bucket}/outbox", "folder": "calls_{yyyymmdd}", "pattern": "*.csv"}}})
    fs = fsspec.filesystem("memory")
    fs.pipe({f"{bucket}/outbox/calls_20260105/calls.csv": b"call_id\nK9\n",
             f"{bucket}/outbox/calls_20260105/readme.txt": b"not data"})
    result = run_extract(config, "calls", D1)
    assert [f.name for f in result.files] == ["calls.csv"]
    assert fs.cat(f"{bucket}/raw/calls/arrival_date=2026-01-05/calls.csv") == b"call_id\nK9\n"
    assert json.loads(fs.cat(f"{bucket}/raw/calls/arrival_date=2026-01-05/_manifest.json"))["file_count"] == 1


def test_bad_settings_are_named(tmp_path):
    from jobs.config import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "config" / "journeys.yaml").read_text().replace(
        "folder: arrival_date={date}", "folder: day={day}"))
    with pytest.raises(ConfigError, match=r"extract.landing.clickstream.folder: .*only \{date\} and \{yyyymmdd\}"):
        load_config(bad)
    with pytest.raises(ExtractError, match="unknown source 'web'"):
        run_extract(make_config(tmp_path), "web", D1)


def test_sql_source_without_a_url_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.delenv("JOURNEYS_CRM_URL", raising=False)
    config = make_config(tmp_path, crm_sql={"enabled": True})
    with pytest.raises(ExtractError, match="JOURNEYS_CRM_URL or the Airflow connection 'journeys_crm'"):
        run_extract(config, "crm_customers", D1)


def test_seed_reader_skips_rows_no_database_would_hold(tmp_path):
    folder = tmp_path / "crm_customers" / "arrival_date=2026-01-05"
    folder.mkdir(parents=True)
    header = ",".join(raw_contract("crm_customers").column_names)
    folder.joinpath("customers.csv").write_text("\n".join([
        header,
        "C1,a@x.com,,Ann,Lee,,consumer,us-west,2026-01-01 10:00:00,2026-01-05 09:00:00",
        "C1,a@x.com,,Ann,Lee,,enterprise,us-west,2026-01-01 10:00:00,2026-01-05 11:00:00",  # newer version
        "C2,b@x.com,,Bo,Ma,,consumer,us-west,2026-01-01 10:00:00,not a time",
        ",c@x.com,,Cy,No,,consumer,us-west,2026-01-01 10:00:00,2026-01-05 09:00:00",
        "C3,short,row",
    ]) + "\n")
    versions, skipped = read_versions(tmp_path, None)
    assert list(versions) == ["C1"] and versions["C1"]["segment"] == "enterprise"
    assert skipped == {"wrong_column_count": 1, "no_customer_id": 1, "bad_timestamp": 1}


# ---------------------------------------------------------------- SQL against the real PostgreSQL


@pytest.fixture(scope="module")
def pg_schema():
    import sqlalchemy
    from sqlalchemy.exc import OperationalError

    engine = sqlalchemy.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
    except OperationalError as exc:
        # the SQL extract must be tested against a real database: a missing one fails, never skips
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL} ({str(exc).splitlines()[0]}); start it "
                    "(.ci/run does: pg_ctlcluster --skip-systemctl-redirect <version> main start)")
    schema = f"journeys_test_{uuid.uuid4().hex[:8]}"
    yield engine, schema
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="module")
def generated_landing(tmp_path_factory):
    from jobs.generator import generate

    root = tmp_path_factory.mktemp("crm-landing")
    generate(root, customers=120, days=2, seed=21)
    return root


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_sql_extract_is_incremental_on_updated_at_and_reruns_identically(tmp_path, pg_schema, generated_landing,
                                                                         monkeypatch):
    from sqlalchemy import text

    engine, schema = pg_schema
    monkeypatch.setenv("JOURNEYS_CRM_URL", PG_URL)
    seeded = seed(PG_URL, generated_landing, until=D1, schema=schema, reset=True)
    assert seeded["customers"] > 50
    config = make_config(tmp_path, crm_sql={"enabled": True, "db_schema": schema})
    out1 = tmp_path / "raw" / "crm_customers" / f"arrival_date={D1}" / "customers.csv"

    # D1: no watermark yet, so everything updated before the end of D1 (the full snapshot)
    first = run_extract(config, "crm_customers", D1)
    rows = read_csv(out1)
    with engine.connect() as conn:
        db = conn.execute(text(f'SELECT customer_id, updated_at FROM "{schema}".crm_customers')).all()
    assert list(rows[0]) == raw_contract("crm_customers").column_names
    assert sorted((r["customer_id"], r["updated_at"]) for r in rows) == sorted(
        (c, u.isoformat(sep=" ")) for c, u in db)
    assert first.rows == len(db) and first.method == "sql"
    state = load_state(config)
    assert state["watermark"] == "2026-01-06T00:00:00"
    assert state["dates"]["2026-01-05"]["low"] is None
    manifest = json.loads(out1.with_name("_manifest.json").read_text())
    assert manifest["files"][0]["sha256"] == hashlib.sha256(out1.read_bytes()).hexdigest()
    assert "postgres@127.0.0.1" in manifest["origin"] and manifest["sql"]["rows"] == len(db)

    # the CRM changes after the watermark: two customers updated on D2, one created
    with engine.begin() as conn:
        conn.execute(text(f'UPDATE "{schema}".crm_customers SET segment = \'enterprise\', '
                          f"updated_at = '2026-01-06 10:00:00' WHERE customer_id IN "
                          f'(SELECT customer_id FROM "{schema}".crm_customers ORDER BY customer_id LIMIT 2)'))
        conn.execute(text(f'INSERT INTO "{schema}".crm_customers (customer_id, email, created_at, updated_at) '
                          "VALUES ('CNEW1', ' New@Example.com', '2026-01-06 08:00:00', '2026-01-06 08:00:01')"))
        conn.execute(text(f'INSERT INTO "{schema}".crm_customers (customer_id, created_at, updated_at) '
                          "VALUES ('CLATER', '2026-01-07 08:00:00', '2026-01-07 08:00:00')"))  # belongs to D3
    second = run_extract(config, "crm_customers", D2)
    out2 = tmp_path / "raw" / "crm_customers" / f"arrival_date={D2}" / "customers.csv"
    rows2 = read_csv(out2)
    updated = sorted(c for c, _ in db)[:2]
    assert sorted(r["customer_id"] for r in rows2) == sorted([*updated, "CNEW1"])  # not CLATER: that is D3's
    assert {r["segment"] for r in rows2 if r["customer_id"] != "CNEW1"} == {"enterprise"}
    assert [r["updated_at"] for r in rows2] == sorted(r["updated_at"] for r in rows2)
    assert next(r for r in rows2 if r["customer_id"] == "CNEW1")["email"] == " New@Example.com"  # raw, as stored
    assert second.sql["low"] == "2026-01-06T00:00:00" and second.sql["high"] == "2026-01-07T00:00:00"
    assert load_state(config)["watermark"] == "2026-01-07T00:00:00"

    # rerun of the same date: the extract already in the raw zone is kept, byte for byte
    before = out2.read_bytes()
    rerun = run_extract(config, "crm_customers", D2)
    assert rerun.method == "kept" and out2.read_bytes() == before
    # forced: the same window is queried again; the database did not change, so neither does the file
    forced = run_extract(config, "crm_customers", D2, force=True)
    assert forced.method == "sql" and out2.read_bytes() == before
    assert forced.files[0].sha256 == second.files[0].sha256
    # a row committed late with an updated_at inside D2's window is picked up only when forced
    with engine.begin() as conn:
        conn.execute(text(f'INSERT INTO "{schema}".crm_customers (customer_id, created_at, updated_at) '
                          "VALUES ('CLATE', '2026-01-06 23:00:00', '2026-01-06 23:59:59')"))
    assert run_extract(config, "crm_customers", D2).method == "kept"
    assert "CLATE" not in {r["customer_id"] for r in read_csv(out2)}
    run_extract(config, "crm_customers", D2, force=True)
    assert "CLATE" in {r["customer_id"] for r in read_csv(out2)}
    # the D1 extract was never touched by any of this
    assert read_csv(out1) == rows


def test_sql_extract_maps_columns_and_converts_timestamptz(tmp_path, pg_schema, monkeypatch):
    from sqlalchemy import text

    engine, schema = pg_schema
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        conn.execute(text(f'CREATE TABLE "{schema}".customers_tz (cust_no text PRIMARY KEY, email text, phone text, '
                          "first_name text, last_name text, web_user_id text, segment text, region text, "
                          "created_at timestamptz NOT NULL, modified timestamptz NOT NULL)"))
        conn.execute(text(f'INSERT INTO "{schema}".customers_tz VALUES '
                          "('T1', NULL, NULL, 'Wright, Jr.', 'O''Neil', NULL, 'consumer', 'us', "
                          "'2026-01-05 03:00:00+00', '2026-01-06 05:30:00+00'), "   # Jan 5 23:30 in Chicago
                          "('T2', NULL, NULL, 'A', 'B', NULL, 'consumer', 'us', "
                          "'2026-01-05 03:00:00+00', '2026-01-06 06:30:00+00')"))   # Jan 6 00:30 in Chicago
    monkeypatch.setenv("JOURNEYS_CRM_URL", PG_URL)
    config = make_config(tmp_path, crm_sql={"enabled": True, "db_schema": schema, "table": "customers_tz",
                                            "columns": {"customer_id": "cust_no", "updated_at": "modified"}})
    config = config.with_overrides(sources={"crm_customers": {"timezone": "America/Chicago"}})
    result = run_extract(config, "crm_customers", D1)
    rows = read_csv(tmp_path / "raw" / "crm_customers" / f"arrival_date={D1}" / "customers.csv")
    assert [(r["customer_id"], r["first_name"], r["updated_at"]) for r in rows] == [
        ("T1", "Wright, Jr.", "2026-01-05 23:30:00")]
    assert result.sql["column"] == "modified"
    bad = config.with_overrides(extract={"crm_sql": {"columns": {"customer_id": "nope"}}})
    with pytest.raises(ExtractError, match="missing column"):
        run_extract(bad, "crm_customers", D2)
    with pytest.raises(ExtractError, match="no such table"):
        run_extract(config.with_overrides(extract={"crm_sql": {"table": "absent"}}), "crm_customers", D2)


def test_an_unreachable_database_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYS_CRM_URL", "postgresql://postgres:secret@127.0.0.1:1/test?connect_timeout=2")
    config = make_config(tmp_path, crm_sql={"enabled": True})
    with pytest.raises(ExtractError) as failure:
        run_extract(config, "crm_customers", D1)
    assert "OperationalError" in str(failure.value) and "secret" not in str(failure.value)
    assert not (tmp_path / "raw" / "crm_customers" / "_extract_tmp").exists()
