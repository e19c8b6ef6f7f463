#!/usr/bin/env bash
# The pipeline end to end through Airflow: generates sample deliveries into data/landing/,
# then runs the real DAG journeys_nightly with `airflow dags test` (SQLite metadata DB in
# .airflow/, Spark in local mode) for several consecutive arrival dates and prints the summary.
# When PostgreSQL answers on 127.0.0.1:5432, the CRM customers come from it (seeded day by day
# from the generated CRM files); otherwise from the files. Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ROOT=$PWD
PY=$ROOT/.venv/bin/python
export PATH="$ROOT/.venv/bin:$PATH"   # spark-submit and airflow

DAYS=${JOURNEYS_DEMO_DAYS:-5}
CUSTOMERS=${JOURNEYS_DEMO_CUSTOMERS:-1000}
FIRST=2026-01-05
CRM_URL=${JOURNEYS_DEMO_CRM_URL:-postgresql://postgres@127.0.0.1:5432/test}

export AIRFLOW_HOME=$ROOT/.airflow
export AIRFLOW__CORE__DAGS_FOLDER=$ROOT/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=${AIRFLOW__LOGGING__LOGGING_LEVEL:-INFO}
export JOURNEYS_TIMEZONE=UTC          # logical date D+1 00:00 UTC processes arrival date D
# The demo's key is public; a real deployment sets its own secret (or the connection journeys_pii).
export JOURNEYS_PII_KEY=${JOURNEYS_PII_KEY:-journeys-demo-key-not-a-secret}
mkdir -p "$AIRFLOW_HOME/demo"
LOGS=$AIRFLOW_HOME/demo

t0=$(date +%s)
echo "demo: generating $DAYS days for $CUSTOMERS customers into data/landing/"
rm -rf data/landing data/raw data/warehouse
.venv/bin/journeys generate --customers "$CUSTOMERS" --days "$DAYS" --seed 42 --start "$FIRST" --out data/landing

echo "demo: preparing Airflow in .airflow/ (SQLite metadata DB)"
airflow db migrate >"$LOGS/db-migrate.log" 2>&1 || { tail -20 "$LOGS/db-migrate.log"; exit 1; }

CONFIG=$ROOT/config/journeys.yaml
if JOURNEYS_CRM_URL=$CRM_URL "$PY" - <<'EOF' 2>/dev/null
import os
from sqlalchemy import create_engine, text
engine = create_engine(os.environ["JOURNEYS_CRM_URL"], connect_args={"connect_timeout": 3})
with engine.connect() as conn:
    conn.execute(text("select 1"))
EOF
then
  SQL=1
  CONFIG=$AIRFLOW_HOME/demo/journeys-sql.yaml
  "$PY" - "$CONFIG" <<'EOF'
import sys
import yaml
from jobs.config import load_config
from jobs.extract.zone import resolve_uri
cfg = load_config()
landing = {name: {"uri": resolve_uri(src.uri, cfg.base_dir)}  # this file lives elsewhere: no relative paths
           for name, src in cfg.extract.landing if src.uri}
cfg = cfg.with_overrides(extract={"landing": landing, "crm_sql": {"enabled": True, "db_schema": "journeys_demo"}})
open(sys.argv[1], "w").write("# written by scripts/demo.sh: config/journeys.yaml with the CRM read from PostgreSQL\n"
                             + yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
EOF
  echo "demo: PostgreSQL is up: crm_customers come from table journeys_demo.crm_customers (incremental on updated_at)"
else
  SQL=0
  echo "demo: PostgreSQL is not reachable at $CRM_URL: crm_customers come from the landed files"
fi
export JOURNEYS_CONFIG=$CONFIG

# Idempotent: the same file imported with --overwrite on every demo run.
umask 077
"$PY" - "$LOGS/connections.json" "$SQL" <<'EOF'
import json, os, sys
conns = {"spark_default": {"conn_type": "spark", "host": "local[*]", "description": "Spark in local mode"},
         "journeys_pii": {"conn_type": "generic", "password": os.environ["JOURNEYS_PII_KEY"],
                          "description": "HMAC key for PII hashing"}}
if sys.argv[2] == "1":
    conns["journeys_crm"] = {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres",
                             "schema": "test", "description": "demo CRM database"}
json.dump(conns, open(sys.argv[1], "w"))
EOF
airflow connections import --overwrite "$LOGS/connections.json" >"$LOGS/connections.log" 2>&1 \
  || { cat "$LOGS/connections.log"; exit 1; }
rm -f "$LOGS/connections.json"
umask 022

for i in $(seq 0 $((DAYS - 1))); do
  day=$(date -u -d "$FIRST + $i day" +%F)
  logical=$(date -u -d "$FIRST + $((i + 1)) day" +%F)
  if [ "$SQL" = 1 ]; then
    JOURNEYS_CRM_URL=$CRM_URL "$PY" -m jobs.extract.seed --landing data/landing --until "$day" \
      --schema journeys_demo $([ "$i" = 0 ] && echo --reset) >/dev/null
  fi
  s=$(date +%s)
  log=$LOGS/dags-test-$day.log
  if airflow dags test journeys_nightly "$logical" >"$log" 2>&1; then
    echo "demo: arrival date $day (logical date $logical): success in $(( $(date +%s) - s )) s"
    "$PY" -m jobs.summary --config "$CONFIG" --date "$day" | sed -n '2,$p' | grep -v -e '^  rows per table' -e '^  tables:' -e '^  validation:'
    "$PY" - "$log" <<'EOF'
import re, sys
from datetime import datetime
start, took = {}, []
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(\S+Z) .*\[DAG TEST\] (starting task_id=|end task task_id=)(\w+)", line)
    if m:
        t = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        if m.group(2).startswith("starting"):
            start[m.group(3)] = t
        elif m.group(3) in start:
            took.append(f"{m.group(3)} {(t - start[m.group(3)]).total_seconds():.0f}s")
print("  task wall times: " + ", ".join(took))
EOF
  else
    echo "demo: arrival date $day FAILED; the end of $log:" >&2
    grep -E "ERROR|error|failed|Failed|critical" "$log" | tail -25 >&2
    exit 1
  fi
done

echo
echo "demo finished in $(( $(date +%s) - t0 )) s, $DAYS arrival dates through Airflow:"
"$PY" -m jobs.summary --config "$CONFIG"
echo "  landing zone: $ROOT/data/landing/<source>/   raw zone: $ROOT/data/raw/<source>/ (with _manifest.json)"
echo "  Airflow: AIRFLOW_HOME=$AIRFLOW_HOME, one log per date in $LOGS/"
# the analysts' view of the same tables: one HTML file over every demo date (DuckDB, no Spark)
last=$(date -u -d "$FIRST + $((DAYS - 1)) day" +%F)
.venv/bin/journeys report --config "$CONFIG" --from "$FIRST" --to "$last" | sed 's/^wrote report to /  report: /'
