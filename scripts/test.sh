#!/usr/bin/env bash
# Sets up and runs the whole test suite (real Spark, local mode).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
