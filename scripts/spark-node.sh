#!/usr/bin/env bash
# Runs one Spark standalone daemon in the foreground, from the PySpark installation:
#
#   scripts/spark-node.sh master HOST PORT WEBUI_PORT
#   scripts/spark-node.sh worker MASTER_URL CORES MEMORY WEBUI_PORT [WORK_DIR]
#
# The Spark image in docker/ runs exactly this; tests/test_cluster.py runs it on 127.0.0.1.
# SPARK_HOME defaults to the pyspark package of the Python on PATH (or $PYTHON).
set -euo pipefail
role="${1:?usage: spark-node.sh master|worker ...}"; shift
if [ -z "${SPARK_HOME:-}" ]; then
  SPARK_HOME="$("${PYTHON:-python}" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
fi
export SPARK_HOME
# the daemons keep no logs or pid files of their own: the caller's stdout is the log
export SPARK_NO_DAEMONIZE=1
case "$role" in
  master)
    exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
      --host "${1:?host}" --port "${2:?port}" --webui-port "${3:?webui port}" ;;
  worker)
    args=(--cores "${2:?cores}" --memory "${3:?memory}" --webui-port "${4:?webui port}")
    if [ -n "${5:-}" ]; then args+=(--work-dir "$5"); fi
    exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker "${args[@]}" "${1:?master url}" ;;
  *)
    echo "spark-node.sh: unknown role '$role' (master or worker)" >&2; exit 2 ;;
esac
