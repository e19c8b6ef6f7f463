"""Extract: pull each source's delivery for one arrival date into the raw zone.

Files come from a landing zone through fsspec (a local folder by default, any fsspec URI
in production); CRM customers can come from a SQL database instead (incremental on
updated_at). Every extract is idempotent per date, replaces the day's raw folder whole,
and leaves `_manifest.json` in it (files, sizes, sha256). No Spark here: this runs in
the Airflow worker.

    python -m jobs.extract --source calls --date 2026-01-05 [--config FILE] [--force] [--json]
"""
from __future__ import annotations

import os
from datetime import date

from jobs.config import Config
from jobs.extract.files import extract_files
from jobs.extract.result import ExtractResult
from jobs.extract.zone import MANIFEST, ExtractError

SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")


def uses_sql(config: Config, source: str) -> bool:
    return source == "crm_customers" and config.extract.crm_sql.enabled


def crm_url(config: Config, from_connection=None):
    """The CRM database URL: the environment variable wins, then the caller's connection lookup."""
    sql = config.extract.crm_sql
    url = os.environ.get(sql.url_env)
    if url:
        return url
    if from_connection is not None and sql.conn_id:
        url = from_connection(sql.conn_id)
        if url:
            return url
    raise ExtractError(f"extract.crm_sql is enabled but no database URL: set the environment variable "
                       f"{sql.url_env} or the Airflow connection {sql.conn_id!r}")


def run_extract(config: Config, source: str, day: date, force: bool = False, from_connection=None) -> ExtractResult:
    """Extract one source for one date the way the config says (files, or SQL for crm_customers)."""
    if source not in SOURCES:
        raise ExtractError(f"unknown source {source!r}; sources are {', '.join(SOURCES)}")
    if uses_sql(config, source):
        from jobs.extract.sql import extract_crm_sql

        return extract_crm_sql(config, day, crm_url(config, from_connection), force=force)
    return extract_files(config, source, day)


__all__ = ["ExtractError", "ExtractResult", "MANIFEST", "SOURCES", "crm_url", "run_extract", "uses_sql"]
