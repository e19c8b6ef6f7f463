"""`journeys sql`: one query, or an interactive shell, over the published tables in DuckDB.

The views come from `jobs.analyst.warehouse`; this module only splits input into statements,
runs them and prints results with `jobs.analyst.formatting`. A failing statement is reported
in one line (DuckDB's own messages span several with a caret diagram) and the shell goes on.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from jobs.analyst import formatting
from jobs.analyst.warehouse import tables

PROMPT, CONTINUATION = "journeys> ", "     ...> "
HISTORY_FILE = "~/.journeys_sql_history"
HELP = """\
End each SQL statement with ; (it may span several lines). Commands:
  .tables            the published tables
  .schema TABLE      a table's columns, types and meaning
  .format FORMAT     table, csv or json
  .help              this text
  .quit              leave (or Ctrl-D)
"""


class SqlError(Exception):
    """A statement failed; the message is one line."""


def one_line(exc: BaseException) -> str:
    """DuckDB's message up to its first blank line (drops the LINE/caret diagram), on one line."""
    head = str(exc).strip().split("\n\n", 1)[0]
    return " ".join(head.split()) or type(exc).__name__


def split_statements(text: str) -> tuple[list[str], str]:
    """Complete `;`-terminated statements in `text` and the unfinished rest.

    Semicolons inside quotes and comments do not end a statement."""
    done, start, i, n = [], 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < n:
                if text[end] == ch:
                    if end + 1 < n and text[end + 1] == ch:  # doubled quote: an escaped one
                        end += 2
                        continue
                    break
                end += 1
            i = end + 1
            continue
        if text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        if text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
            continue
        if ch == ";":
            stmt = text[start:i].strip()
            if _has_code(stmt):
                done.append(stmt)
            start = i + 1
        i += 1
    rest = text[start:]
    return done, rest if rest.strip() else ""


def _has_code(stmt: str) -> bool:
    """False for a statement of nothing but comments (DuckDB rejects those)."""
    lines = [line.split("--", 1)[0] for line in stmt.splitlines()]
    body = "\n".join(lines)
    while "/*" in body:
        a = body.index("/*")
        b = body.find("*/", a + 2)
        body = body[:a] + ("" if b < 0 else body[b + 2:])
    return bool(body.strip())


@dataclass
class Session:
    """A connection plus output settings; `run` prints one statement's result."""
    con: object
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    fmt: str = "table"
    footer: bool = True
    include_restricted: bool = False
    errors: int = 0

    def query(self, sql: str) -> tuple[list[str], Iterator[tuple]]:
        try:
            cur = self.con.execute(sql)
        except Exception as exc:
            raise SqlError(one_line(exc)) from None
        if cur.description is None:
            return [], iter(())
        return [d[0] for d in cur.description], _batches(cur)

    def run(self, sql: str) -> int:
        """Run one statement and print its result; returns the row count."""
        columns, rows = self.query(sql)
        try:
            if self.fmt == "table":
                first = [row for _, row in zip(range(formatting.MAX_TABLE_ROWS), rows)]
                total = len(first) + sum(1 for _ in rows)
                self.out.write(formatting.format_table(columns, first, total=total, footer=self.footer))
                return total
            writer = formatting.write_csv if self.fmt == "csv" else formatting.write_json
            return writer(columns, rows, self.out)
        except SqlError:
            raise
        except Exception as exc:  # errors can surface while fetching (e.g. a failed cast)
            raise SqlError(one_line(exc)) from None

    def run_script(self, text: str) -> None:
        statements, rest = split_statements(text if text.rstrip().endswith(";") else text + ";")
        for sql in [*statements, *([rest] if rest else [])]:
            self.run(sql)


def _batches(cur, size: int = 1000) -> Iterator[tuple]:
    try:
        while batch := cur.fetchmany(size):
            yield from batch
    except Exception as exc:
        raise SqlError(one_line(exc)) from None


def describe_tables(include_restricted: bool) -> list[tuple[str, str, str]]:
    """(table, grain, partitioned by) for `.tables`."""
    return [(name, c.grain, ", ".join(c.partition_by)) for name, c in tables(include_restricted).items()]


def describe_table(name: str, include_restricted: bool) -> list[tuple[str, str, str, str]]:
    """(column, type, required, meaning) from the contract, for `.schema`."""
    contract = tables(include_restricted).get(name.strip().strip('"'))
    if contract is None:
        hidden = name in tables(True)
        raise SqlError(f"no table {name!r}" + (" (restricted: start with --include-restricted)" if hidden
                                                 else "; .tables lists them"))
    return [(c.name, c.type, "yes" if c.required else "", c.description) for c in contract.columns]


def dot_command(session: Session, line: str) -> bool:
    """Handle a `.command`; False means quit."""
    cmd, _, arg = line.strip().partition(" ")
    arg = arg.strip().rstrip(";").strip()
    if cmd in (".quit", ".exit", ".q"):
        return False
    if cmd == ".help":
        session.out.write(HELP)
    elif cmd == ".tables":
        session.out.write(formatting.format_table(("table", "grain", "partitioned by"),
                                                  describe_tables(session.include_restricted),
                                                  max_width=80, footer=False))
    elif cmd == ".schema":
        if not arg:
            raise SqlError("usage: .schema TABLE")
        session.out.write(formatting.format_table(("column", "type", "required", "meaning"),
                                                  describe_table(arg, session.include_restricted),
                                                  max_width=100, footer=False))
    elif cmd == ".format":
        if arg not in formatting.FORMATS:
            raise SqlError(f"usage: .format {'|'.join(formatting.FORMATS)} (now {session.fmt})")
        session.fmt = arg
    else:
        raise SqlError(f"unknown command {cmd}; .help lists them")
    return True


def shell(session: Session, read_line: Callable[[str], str], *, prompts: bool = True) -> int:
    """Read statements and dot commands until `.quit` or end of input; returns the failures.

    `read_line(prompt)` returns one line without its newline and raises EOFError at the end,
    which `input` does (with readline editing when that is loaded)."""
    buffer = ""
    while True:
        try:
            line = read_line((CONTINUATION if buffer else PROMPT) if prompts else "")
        except EOFError:
            break
        except KeyboardInterrupt:  # Ctrl-C drops the statement being typed, like psql
            session.out.write("\n")
            buffer = ""
            continue
        if not buffer and line.lstrip().startswith("."):
            try:
                if not dot_command(session, line):
                    break
            except SqlError as exc:
                _report(session, exc)
            continue
        statements, buffer = split_statements(buffer + line + "\n")
        for sql in statements:
            try:
                session.run(sql)
            except SqlError as exc:
                _report(session, exc)
            except KeyboardInterrupt:  # Ctrl-C stops a long query, not the shell
                _report(session, SqlError("interrupted"))
                break
    if buffer.strip() and _has_code(buffer):  # a last statement without its `;`
        try:
            session.run(buffer)
        except SqlError as exc:
            _report(session, exc)
    return session.errors


def _report(session: Session, exc: SqlError) -> None:
    session.errors += 1
    session.err.write(f"error: {exc}\n")
    session.err.flush()


def stream_reader(stream: TextIO) -> Callable[[str], str]:
    """`read_line` over a file or pipe: no prompts, EOFError at the end."""
    def read(_prompt: str) -> str:
        line = stream.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")
    return read


def terminal_reader(out: TextIO) -> Callable[[str], str]:
    """`read_line` for a terminal: `input` with readline editing and a history file when available."""
    try:
        import atexit
        import readline

        path = os.path.expanduser(os.environ.get("JOURNEYS_SQL_HISTORY", HISTORY_FILE))
        try:
            readline.read_history_file(path)
        except OSError:
            pass
        readline.set_history_length(1000)
        atexit.register(_save_history, readline, path)
    except ImportError:
        pass

    def read(prompt: str) -> str:
        out.flush()
        return input(prompt)
    return read


def _save_history(readline, path: str) -> None:
    try:
        readline.write_history_file(path)
    except OSError:
        pass


def banner(warehouse: str, include_restricted: bool) -> str:
    names = list(tables(include_restricted))
    return (f"journeys sql: DuckDB over {warehouse}\n"
            f"{len(names)} tables: {', '.join(names)}\n"
            "End statements with ;  .help for commands, .quit to leave\n")
