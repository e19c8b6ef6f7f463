#!/usr/bin/env bash
# Creates the CRM example database (JOURNEYS_CRM_DB) beside Airflow's metadata database
# (POSTGRES_DB, which the postgres image creates itself). The postgres image runs this once,
# when its data volume is still empty (it is mounted into /docker-entrypoint-initdb.d/);
# tests/test_docker.py runs the same script against the local PostgreSQL. Idempotent.
set -euo pipefail
db="${JOURNEYS_CRM_DB:?set JOURNEYS_CRM_DB to the CRM example database name}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v db="$db" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
