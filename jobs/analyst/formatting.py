"""Query results as text: an aligned table for people, CSV and JSON for other programs.

Pure functions over (column names, rows of Python values) so they are testable without a
database. Only the table is lossy (floats rounded, wide cells cut, long results capped); CSV
and JSON carry every row at full precision, which is what a spreadsheet or script wants.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TextIO

FORMATS = ("table", "csv", "json")
MAX_CELL = 40          # characters per table cell; a friction `detail` or a path can run to hundreds
MAX_TABLE_ROWS = 1000  # a terminal full of rows helps nobody; csv/json are uncapped
NULL = "NULL"


def plain(value: Any) -> Any:
    """A DuckDB value as a JSON-ready Python value (dates as ISO text, maps as objects)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def cell_text(value: Any, max_width: int = MAX_CELL) -> str:
    """One table cell: NULL spelled out, floats to 4 decimals, nested values as JSON, cut to max_width."""
    if value is None:
        text = NULL
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = _float_text(value)
    elif isinstance(value, Decimal):  # already rounded to its scale by the query: keep it
        text = str(value)
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(plain(value), ensure_ascii=False)
    else:
        text = str(plain(value))
    text = " ".join(text.split()) if ("\n" in text or "\t" in text) else text
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


def _float_text(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    if v != 0 and abs(v) < 1e-4:
        return f"{v:.3g}"
    return f"{v:.4f}".rstrip("0").rstrip(".")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, total: int | None = None,
                 max_width: int = MAX_CELL, footer: bool = True) -> str:
    """Aligned columns (numbers right-aligned), a rule under the header and a row-count footer.

    `total` is the full row count when `rows` is only the first part of the result."""
    header = [cell_text(c, max_width) for c in columns]
    cells = [[cell_text(v, max_width) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    numeric = [bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    if footer:
        total = len(rows) if total is None else total
        shown = f"; the first {len(rows):,} shown, --format csv prints all" if total > len(rows) else ""
        out.append(f"({total:,} row{'' if total == 1 else 's'}{shown})")
    return "\n".join(out) + "\n"


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    """CSV with a header; NULL is an empty field, nested values JSON. Returns the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow(["" if v is None else _csv_text(v) for v in row])
        n += 1
    return n


def _csv_text(value: Any) -> str:
    value = plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write_json(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    """A JSON array of one object per row, written as it streams. Returns the rows written."""
    n = 0
    out.write("[")
    for row in rows:
        out.write(",\n " if n else "\n ")
        out.write(json.dumps({c: plain(v) for c, v in zip(columns, row)}, ensure_ascii=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table") -> str:
    """The whole result as one string (small results, tests)."""
    if fmt == "table":
        return format_table(columns, rows)
    buf = io.StringIO()
    {"csv": write_csv, "json": write_json}[fmt](columns, rows, buf)
    return buf.getvalue()
