"""The analysts' subcommands of `journeys`: `sql` (DuckDB) and `thrift` (Spark Thrift server).

Kept out of jobs/cli.py so the pipeline's command line stays small; cli.py calls
`add_parsers` and dispatches to `cmd_sql` / `cmd_thrift`, which raise its UsageError for bad
usage (exit 2) and SqlError for a failed statement (exit 1).
"""
from __future__ import annotations

import argparse
import json
import sys

from jobs.analyst import formatting

SQL_EPILOG = """\
example:
  journeys sql "SELECT status, count(*) FROM journeys GROUP BY ALL"
  journeys sql --format csv "SELECT * FROM stage_funnel WHERE breakdown = 'all'" > funnel.csv
  journeys sql < docs/queries/01_conversion_by_week_and_segment.sql
  journeys sql                      # interactive: statements end with ;  .tables  .schema T  .quit
Every published table is a view with its documented columns (docs/data_dictionary.md);
`quarantine` holds raw PII and needs --include-restricted. Example queries: docs/queries.md.
--quiet leaves out the row-count footer and the shell's banner; --json prints
{"columns", "rows", "row_count"} for a query, JSON rows in the shell."""

THRIFT_EPILOG = """\
example:
  journeys thrift --port 10000
  beeline -u jdbc:hive2://127.0.0.1:10000/default -e "SELECT status, count(*) FROM journeys GROUP BY status"
Runs in the foreground until Ctrl-C. Restart it after a nightly publish to see new partitions."""


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("sql", parents=[common], help="query the published tables with SQL (DuckDB), or open a SQL shell",
                       epilog=SQL_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("query", nargs="?", help="SQL to run (statements separated by ;); without it, a shell")
    s.add_argument("--format", choices=formatting.FORMATS, default="table", help="output format (default: table)")
    s.add_argument("--warehouse", help="warehouse folder (default: the config's warehouse)")
    s.add_argument("--include-restricted", action="store_true",
                   help="also expose `quarantine`, whose raw_record may hold raw personal data")

    t = sub.add_parser("thrift", parents=[common], help="serve the tables over JDBC/ODBC (Spark Thrift server)",
                       epilog=THRIFT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--port", type=int, default=10000, help="port to listen on (default: 10000)")
    t.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1; 0.0.0.0 exposes it without authentication)")
    t.add_argument("--warehouse", help="warehouse folder (default: the config's warehouse)")
    t.add_argument("--state-dir", help="keep the metastore and logs here (default: a temporary folder, removed on exit)")
    t.add_argument("--include-restricted", action="store_true", help="also serve `quarantine` (raw personal data)")


def _usage_error(message: str) -> Exception:
    from jobs.cli import UsageError

    return UsageError(message)


def _connect(args, config):
    from jobs.analyst.warehouse import connect

    warehouse = args.warehouse or config.warehouse
    try:
        return warehouse, connect(warehouse, include_restricted=args.include_restricted)
    except FileNotFoundError as exc:
        raise _usage_error(str(exc)) from None


def cmd_sql(args, config) -> dict | None:
    from jobs.analyst.sql_shell import (Session, SqlError, banner, shell, split_statements, stream_reader,
                                        terminal_reader)

    warehouse, con = _connect(args, config)
    try:
        if args.query is not None:
            if args.json:  # main() prints what we return, like every other command
                statements, _ = split_statements(args.query + ";")
                if not statements:
                    raise _usage_error("no SQL statement given")
                session = Session(con)
                for sql in statements[:-1]:
                    for _ in session.query(sql)[1]:
                        pass
                columns, rows = session.query(statements[-1])
                records = [{c: formatting.plain(v) for c, v in zip(columns, row)} for row in rows]
                return {"columns": columns, "rows": records, "row_count": len(records)}
            Session(con, fmt=args.format, footer=not args.quiet).run_script(args.query)
            return None
        interactive = sys.stdin.isatty()
        session = Session(con, fmt="json" if args.json else args.format, footer=not args.quiet,
                          include_restricted=args.include_restricted)
        if interactive and not args.quiet:
            print(banner(warehouse, args.include_restricted))
        reader = terminal_reader(sys.stdout) if interactive else stream_reader(sys.stdin)
        failed = shell(session, reader, prompts=interactive)
        if interactive:
            print()
        elif failed:
            raise SqlError(f"{failed} statement{'s' if failed > 1 else ''} failed")
        return None
    finally:
        con.close()


def _ready(args, url: str, message: str) -> None:
    if args.json:  # a line a supervising script can wait for
        print(json.dumps({"ready": True, "jdbc_url": url}), flush=True)
    elif not args.quiet:
        print(message, flush=True)


def cmd_thrift(args, config) -> dict | None:
    from jobs.analyst.thrift import serve

    if not 0 < args.port < 65536:
        raise _usage_error(f"--port must be 1-65535, not {args.port}")
    warehouse = args.warehouse or config.warehouse
    from jobs.cli import _require_java

    _require_java()
    try:
        serve(config, warehouse, host=args.host, port=args.port, state_dir=args.state_dir,
              include_restricted=args.include_restricted,
              ready=lambda url, message: _ready(args, url, message))
    except FileNotFoundError as exc:
        raise _usage_error(str(exc)) from None
    except OSError as exc:  # the port is taken or the address is not ours
        raise _usage_error(str(exc)) from None
    if not args.quiet and not args.json:
        print("Spark Thrift server stopped")
    return {"stopped": True, "host": args.host, "port": args.port}
