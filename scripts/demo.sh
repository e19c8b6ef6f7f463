#!/usr/bin/env bash
# Sets up, generates sample data and runs the pipeline end to end on every sample date.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/journeys demo "$@"
