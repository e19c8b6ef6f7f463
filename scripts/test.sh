#!/usr/bin/env bash
# Sets up and runs the whole test suite (real Spark, local mode).
set -euo pipefail
cd "$(dirname "$0")/.."
JOURNEYS_SETUP_BROWSER=1 bash scripts/setup.sh   # Chromium for the report's browser test
exec .venv/bin/python -m pytest "$@"
