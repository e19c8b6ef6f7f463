#!/usr/bin/env bash
# Idempotent setup: Java 17+ (Spark 4 needs it), a virtual environment at .venv/
# with the pinned dependencies from constraints.txt, and the project installed editable.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { [ -n "${JOURNEYS_SETUP_QUIET:-}" ] || echo "setup: $*"; }

java_major() {
  command -v java >/dev/null 2>&1 || { echo 0; return; }
  java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

if [ "$(java_major)" -lt 17 ]; then
  say "installing Java 17 (OpenJDK headless) for Spark"
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "setup: Java 17 or 21 is required and apt-get is not available; install a JDK and rerun" >&2
    exit 1
  fi
fi
[ "$(java_major)" -ge 17 ] || { echo "setup: Java 17+ still not found on PATH" >&2; exit 1; }

# The report's browser test (tests/test_report.py) drives Debian's Chromium; only test runs
# ask for it (scripts/test.sh sets JOURNEYS_SETUP_BROWSER=1): the pipeline never needs it.
if [ "${JOURNEYS_SETUP_BROWSER:-}" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Chromium (Debian's chromium package) for the report's browser test"
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: the browser test needs /usr/bin/chromium and apt-get is not available; install Chromium and rerun" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "setup: Python 3.11 is required (found $("$PY" --version 2>&1))" >&2; exit 1; }

stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "creating .venv and installing pinned dependencies (first run takes a few minutes)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  log=.venv/setup.log
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
         .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup: installing the dependencies failed; full log in $log" >&2
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Every Spark JVM maps this class archive (config/journeys.yaml: spark.class_archive) instead
# of loading Spark's classes from the jars: about 6 s less per start (docs/performance.md). An
# archive fits one JVM build and one installation, so a new Java or new dependencies rebuild it.
archive=.venv/journeys-classes.jsa
archive_stamp=.venv/.classes-$( { java -version 2>&1; basename "$stamp"; } | sha256sum | cut -c1-16)
if [ ! -f "$archive" ] || [ ! -f "$archive_stamp" ]; then
  say "building the JVM class archive $archive (one tiny date in one JVM; about 2 minutes, once)"
  if .venv/bin/journeys class-archive --config config/journeys.yaml --out "$archive" >.venv/class-archive.log 2>&1; then
    rm -f .venv/.classes-*
    touch "$archive_stamp"
  else
    rm -f "$archive"
    tail -n 15 .venv/class-archive.log >&2
    echo "setup: warning: no class archive (log in .venv/class-archive.log); Spark works without it, only starts slower" >&2
  fi
fi
say "ready: $(.venv/bin/python --version), $(java -version 2>&1 | head -1)"
