"""Load the generator's CRM customer files into a SQL table: the CRM database of the tests and the demo.

    python -m jobs.extract.seed --landing data/landing --until 2026-01-06   # URL from $JOURNEYS_CRM_URL

A database keeps one row per customer, so the table holds each customer's latest version
written up to `--until` (the CRM as it stood at the end of that day); seeding day by day
replays the CRM's history for the incremental extract. Rows no database would hold (wrong
column count, no customer_id, unparsable timestamps) are skipped and counted.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jobs.contracts import raw_contract

TEXT_COLUMNS = ("customer_id", "email", "phone", "first_name", "last_name", "web_user_id", "segment", "region")


def crm_table(metadata, name: str = "crm_customers", schema: str | None = None):
    from sqlalchemy import Column, DateTime, Index, Table, Text

    table = Table(name, metadata, *[Column(c, Text, primary_key=(c == "customer_id")) for c in TEXT_COLUMNS],
                  Column("created_at", DateTime, nullable=False), Column("updated_at", DateTime, nullable=False),
                  schema=schema)
    Index(f"ix_{name}_updated_at", table.c.updated_at)
    return table


def _when(text: str, tz: ZoneInfo) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value


def read_versions(landing_root: str | Path, until: date | None, tz: str = "UTC") -> tuple[dict[str, dict], dict]:
    """Latest version per customer_id from `<landing>/crm_customers/arrival_date=*/` up to `until`."""
    zone = ZoneInfo(tz)
    root = Path(landing_root) / "crm_customers"
    if not root.is_dir():
        raise FileNotFoundError(f"no crm_customers folder under {landing_root}")
    columns = raw_contract("crm_customers").column_names
    latest: dict[str, dict] = {}
    skipped = {"wrong_column_count": 0, "no_customer_id": 0, "bad_timestamp": 0}
    folders = sorted(p for p in root.glob("arrival_date=*") if p.is_dir())
    for folder in folders:
        if until and date.fromisoformat(folder.name.split("=", 1)[1]) > until:
            continue
        for path in sorted(folder.glob("*.csv")):
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = next(reader, None) or []
                for fields in reader:
                    if not fields:
                        continue
                    if len(fields) != len(header):
                        skipped["wrong_column_count"] += 1
                        continue
                    row = dict(zip(header, fields))
                    if not row.get("customer_id", "").strip():
                        skipped["no_customer_id"] += 1
                        continue
                    created, updated = _when(row.get("created_at", ""), zone), _when(row.get("updated_at", ""), zone)
                    if created is None or updated is None:
                        skipped["bad_timestamp"] += 1
                        continue
                    record = {c: (row.get(c) or None) for c in columns if c in TEXT_COLUMNS}
                    record["customer_id"] = record["customer_id"].strip()
                    record.update(created_at=created, updated_at=updated)
                    old = latest.get(record["customer_id"])
                    if old is None or record["updated_at"] >= old["updated_at"]:
                        latest[record["customer_id"]] = record
    return latest, skipped


def seed(url, landing_root: str | Path, until: date | None = None, table: str = "crm_customers",
         schema: str | None = None, tz: str = "UTC", reset: bool = False) -> dict:
    """Upsert the versions into the table (created if absent); an older version never overwrites a newer one."""
    from sqlalchemy import MetaData, create_engine
    from sqlalchemy.schema import CreateSchema

    versions, skipped = read_versions(landing_root, until, tz)
    engine = create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            raise ValueError(f"seeding supports PostgreSQL and SQLite, not {engine.dialect.name}")
        metadata = MetaData()
        target = crm_table(metadata, table, schema)
        with engine.begin() as conn:
            if schema:
                conn.execute(CreateSchema(schema, if_not_exists=True))
            if reset:
                target.drop(conn, checkfirst=True)
            metadata.create_all(conn)
            rows = list(versions.values())
            for start in range(0, len(rows), 1000):
                stmt = insert(target).values(rows[start:start + 1000])
                stmt = stmt.on_conflict_do_update(
                    index_elements=[target.c.customer_id],
                    set_={c.name: stmt.excluded[c.name] for c in target.columns if c.name != "customer_id"},
                    where=target.c.updated_at < stmt.excluded.updated_at)
                conn.execute(stmt)
    finally:
        engine.dispose()
    return {"table": f"{schema + '.' if schema else ''}{table}", "customers": len(versions), "skipped": skipped,
            "until": until.isoformat() if until else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.extract.seed", description=__doc__.split("\n\n")[0])
    p.add_argument("--landing", required=True, help="folder holding crm_customers/arrival_date=*/ (generator output)")
    p.add_argument("--until", type=date.fromisoformat, help="last arrival date to load (default: all)")
    p.add_argument("--url-env", default="JOURNEYS_CRM_URL", help="environment variable with the SQLAlchemy URL")
    p.add_argument("--table", default="crm_customers")
    p.add_argument("--schema")
    p.add_argument("--timezone", default="UTC", help="zone of timestamps written with an offset")
    p.add_argument("--reset", action="store_true", help="drop and recreate the table first")
    args = p.parse_args(argv)
    url = os.environ.get(args.url_env)
    if not url:
        print(f"seed: set {args.url_env} to a SQLAlchemy URL (e.g. postgresql://postgres@127.0.0.1:5432/test)",
              file=sys.stderr)
        return 2
    from sqlalchemy.exc import SQLAlchemyError

    try:
        out = seed(url, args.landing, args.until, args.table, args.schema, args.timezone, args.reset)
    except (FileNotFoundError, ValueError) as exc:
        print(f"seed: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"seed: database error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
