"""python -m jobs.extract: the Airflow extract tasks, runnable by hand (exit 0 ok, 1 failed, 2 usage)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date

from jobs.config import ConfigError, load_config
from jobs.extract import SOURCES, ExtractError, run_extract


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.extract", description="pull one arrival date into the raw zone",
                                epilog="example: python -m jobs.extract --source all --date 2026-01-05")
    p.add_argument("--source", required=True, choices=[*SOURCES, "all"])
    p.add_argument("--date", required=True, type=date.fromisoformat, help="arrival date (YYYY-MM-DD)")
    p.add_argument("--config", help="YAML config file (default: config/journeys.yaml)")
    p.add_argument("--force", action="store_true", help="query the SQL source again for a date already extracted")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"extract: {exc}", file=sys.stderr)
        return 2
    out = []
    for source in SOURCES if args.source == "all" else [args.source]:
        try:
            result = run_extract(config, source, args.date, force=args.force)
        except ExtractError as exc:
            print(f"extract: {exc}", file=sys.stderr)
            return 1
        out.append(result.summary())
        if not args.json:
            print(f"{source:<15} {result.method:<9} {len(result.files):>4} files {result.bytes:>12} bytes"
                  f"{'' if result.rows is None else f' {result.rows:>8} rows'}  {result.note}")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
