"""crm_customers from a SQL database through SQLAlchemy, incremental on updated_at.

Each arrival date D owns a window of updated_at: [watermark before D, start of D+1), in the
time zone of `sources.crm_customers.timezone`. The windows are kept in a state file under
`<warehouse>/_state/crm_sql/`; the largest upper bound is the watermark. Rerunning a date
keeps the extract already in the raw zone (a database holds only the latest version of a
row, so querying again cannot reproduce what was pulled); `force=True` queries the same
window again. The CSV follows the raw contract (schemas/raw/crm_customers.yaml), so the
normalize step reads it like a file delivery; raw PII stays in the raw zone.
"""
from __future__ import annotations

import csv
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import fsspec

from jobs.config import Config
from jobs.contracts import raw_contract
from jobs.extract.result import ExtractResult
from jobs.extract.zone import (MANIFEST, ExtractError, FileEntry, StagedFolder, arrival_folder, hash_file, read_json,
                               write_json)

log = logging.getLogger("journeys.extract")
SOURCE = "crm_customers"
FILE_NAME = "customers.csv"


def state_uri(config: Config) -> str:
    sql = config.extract.crm_sql
    name = f"{sql.db_schema}.{sql.table}" if sql.db_schema else sql.table
    return f"{config.warehouse.rstrip('/')}/_state/crm_sql/{name}.json"


def load_state(config: Config) -> dict:
    fs, path = fsspec.core.url_to_fs(state_uri(config))
    return read_json(fs, path) or {"watermark": None, "dates": {}}


def window_for(state: dict, day: date) -> tuple[str | None, str]:
    """(low, high) for a date as naive ISO times in the CRM zone: a rerun reuses its window."""
    key = day.isoformat()
    if key in state["dates"]:
        w = state["dates"][key]
        return w["low"], w["high"]
    earlier = [w["high"] for d, w in state["dates"].items() if d < key]
    high = datetime.combine(day + timedelta(days=1), time.min).isoformat()
    return (max(earlier) if earlier else None), high


def _column_map(config: Config) -> dict[str, str]:
    contract_cols = raw_contract(SOURCE).column_names
    mapping = config.extract.crm_sql.columns
    unknown = sorted(set(mapping) - set(contract_cols))
    if unknown:
        raise ExtractError(f"extract.crm_sql.columns: {', '.join(unknown)} not in the crm_customers contract "
                           f"({', '.join(contract_cols)})")
    return {c: mapping.get(c, c) for c in contract_cols}


def _text(value, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # timestamptz: written as CRM wall-clock time, like the files
            value = value.astimezone(tz).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    return str(value)


def safe_url(url) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by create_engine; never echo it
        return "<sql url>"


def extract_crm_sql(config: Config, day: date, url, force: bool = False) -> ExtractResult:
    """Query the date's window into `<sources.crm_customers.path>/arrival_date=D/customers.csv`."""
    from sqlalchemy import MetaData, Table, create_engine, select
    from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

    sql = config.extract.crm_sql
    tz = ZoneInfo(config.sources.crm_customers.timezone)
    raw_root = config.sources.crm_customers.path
    origin = f"{safe_url(url)} table {sql.db_schema + '.' if sql.db_schema else ''}{sql.table}"
    state = load_state(config)
    low, high = window_for(state, day)
    raw_fs, raw_path = fsspec.core.url_to_fs(raw_root)
    folder = arrival_folder(raw_path, day)
    existing = read_json(raw_fs, f"{folder}/{MANIFEST}")
    if (not force and existing and existing.get("method") == "sql"
            and existing.get("sql", {}).get("low") == low and existing.get("sql", {}).get("high") == high):
        log.info("%s %s: keeping the extract of %s (window %s .. %s); force to query again",
                 SOURCE, day, existing.get("extracted_at"), low, high)
        kept = ExtractResult(SOURCE, day, "kept", existing.get("origin", origin), folder,
                             [FileEntry(**f) for f in existing.get("files", [])], rows=existing["sql"].get("rows"),
                             note="already extracted for this window; rerun with force to query again",
                             sql=existing["sql"], extracted_at=existing.get("extracted_at", ""))
        return kept

    columns = _column_map(config)
    engine = create_engine(url)
    staged = None
    try:
        with engine.connect() as conn:
            try:
                table = Table(sql.table, MetaData(), schema=sql.db_schema, autoload_with=conn)
            except NoSuchTableError:
                raise ExtractError(f"{origin}: no such table") from None
            missing = sorted({db for db in columns.values() if db not in table.c})
            if missing:
                raise ExtractError(f"{origin}: missing column(s) {', '.join(missing)}; map contract columns to "
                                   "yours with extract.crm_sql.columns")
            updated = table.c[columns["updated_at"]]
            aware = bool(getattr(updated.type, "timezone", False))
            bound = (lambda text: datetime.fromisoformat(text).replace(tzinfo=tz)) if aware else datetime.fromisoformat
            query = select(*[table.c[db].label(c) for c, db in columns.items()]).where(updated < bound(high))
            if low is not None:
                query = query.where(updated >= bound(low))
            query = query.order_by(updated, table.c[columns["customer_id"]])
            staged = StagedFolder(raw_root, day)
            rows, max_updated = _write_csv(conn, query, staged, list(columns), tz, sql.fetch_rows)
    except SQLAlchemyError as exc:
        if staged:
            staged.abort()
        raise ExtractError(f"{origin}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    except BaseException:
        if staged:
            staged.abort()
        raise
    finally:
        engine.dispose()

    try:
        size, digest = hash_file(staged.fs, f"{staged.path}/{FILE_NAME}")
        window = {"table": sql.table, "schema": sql.db_schema, "column": columns["updated_at"],
                  "timezone": str(tz), "low": low, "high": high, "max_updated_at": max_updated}
        result = ExtractResult(SOURCE, day, "sql", origin, staged.final, [FileEntry(FILE_NAME, size, digest)],
                               rows=rows, sql=window)
        staged.write_manifest(result.manifest())
        staged.commit()
    except BaseException:
        staged.abort()
        raise
    _save_window(config, state, day, window, rows)
    log.info("%s %s: %d rows with %s in [%s, %s) from %s", SOURCE, day, rows, columns["updated_at"],
             low or "-inf", high, origin)
    return result


def _write_csv(conn, query, staged: StagedFolder, header: list[str], tz: ZoneInfo, fetch_rows: int):
    rows, max_updated = 0, None
    with staged.fs.open(f"{staged.path}/{FILE_NAME}", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        result = conn.execution_options(stream_results=True, yield_per=fetch_rows).execute(query)
        for row in result:
            writer.writerow([_text(v, tz) for v in row])
            rows += 1
            max_updated = row.updated_at
    return rows, _text(max_updated, tz) or None


def _save_window(config: Config, state: dict, day: date, window: dict, rows: int) -> None:
    state = {**state, "dates": {**state["dates"], day.isoformat(): {**window, "rows": rows}}}
    state["watermark"] = max(w["high"] for w in state["dates"].values())
    state["column"] = window["column"]
    fs, path = fsspec.core.url_to_fs(state_uri(config))
    write_json(fs, path, state)

