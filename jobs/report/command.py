"""`journeys report`: its arguments and what it prints. Kept out of jobs/cli.py, which only
registers the parser and dispatches here; bad usage raises cli's UsageError (exit 2)."""
from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

EPILOG = """\
example:
  journeys report --from 2026-01-05 --to 2026-01-09
  journeys report --from 2026-01-05 --to 2026-02-03 --out /tmp/january.html --warehouse data/warehouse
Writes one self-contained HTML file (inline SVG charts, nothing fetched when opened): stage
conversion over time, drop-off by stage and breakdown, friction points by lost conversions,
the journey Sankey, NPS/CES/CSAT by touchpoint and run health. Journeys are chosen by start
date, runs and validation results by run date. Default --out: report.html next to the
warehouse folder (data/report.html with the default config). Sections: docs/report.md."""


def add_parser(sub, common: argparse.ArgumentParser, parse_date) -> None:
    r = sub.add_parser("report", parents=[common], help="write the HTML report over a date range",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--from", dest="date_from", type=parse_date, required=True, metavar="DATE",
                   help="first journey start / run date (YYYY-MM-DD)")
    r.add_argument("--to", dest="date_to", type=parse_date, required=True, metavar="DATE",
                   help="last journey start / run date, included (YYYY-MM-DD)")
    r.add_argument("--out", help="HTML file to write (default: <warehouse>/../report.html)")
    r.add_argument("--warehouse", help="warehouse folder (default: the config's warehouse)")


def default_out(warehouse: str) -> Path:
    return Path(warehouse).resolve().parent / "report.html"


def make_report(config, warehouse: str, date_from: date, date_to: date, out: str | Path | None) -> dict:
    """Write the report; a missing warehouse or an inverted range is a usage error."""
    from jobs.cli import UsageError
    from jobs.report.render import write_report

    if date_from > date_to:
        raise UsageError(f"--from {date_from} is after --to {date_to}: the range is empty")
    if not Path(warehouse).is_dir():
        raise UsageError(f"no warehouse at {warehouse}: run `journeys run` or `journeys demo` first")
    path = Path(out) if out else default_out(warehouse)
    if path.is_dir():
        raise UsageError(f"--out {path} is a folder: give a file name, e.g. {path / 'report.html'}")
    t0 = time.monotonic()
    report = write_report(warehouse, date_from, date_to, path, confidence=config.analytics.friction.confidence,
                          stages=list(config.journeys.stages))
    return {"out": str(path.resolve()), "from": date_from.isoformat(), "to": date_to.isoformat(),
            "bytes": len(report.html.encode()), "seconds": round(time.monotonic() - t0, 2),
            "sections": report.sections}


def cmd_report(args, config) -> dict:
    result = make_report(config, args.warehouse or config.warehouse, args.date_from, args.date_to, args.out)
    if not args.quiet and not args.json:
        empty = [name for name, has in result["sections"].items() if not has]
        note = f"; no data for: {', '.join(empty)}" if empty else ""
        print(f"wrote report to {result['out']} ({result['bytes'] / 1024:.0f} KiB, {result['seconds']:.1f} s){note}")
    return result
