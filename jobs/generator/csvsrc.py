"""Delivering the CSV sources: arrival folders, exact duplicate rows, one-defect malformed rows."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jobs.generator.malformed import CSV_KINDS, corrupt_csv_row, pick_kinds
from jobs.generator.util import MS_DAY, csv_lines, day_text


@dataclass
class CsvTable:
    source: str
    filename: str
    columns: list[str]                  # contract order
    text: dict                          # column -> object array of text ('' = null)
    folder_day: np.ndarray              # days since epoch
    sort_key: np.ndarray                # ms, order inside a file
    malformed_ok: np.ndarray            # rows that may be corrupted
    p_duplicate: float
    extra: dict = field(default_factory=dict)   # drift-only columns, same length


@dataclass
class CsvDelivery:
    row: np.ndarray          # per line: row index
    copy: np.ndarray         # 0 original, 1 exact duplicate
    folder_day: np.ndarray
    line_no: np.ndarray      # physical line (header is line 1)
    kind: np.ndarray         # per row: malformed kind index or -1
    files: dict              # folder_day -> relative file path


def deliver_csv(t: CsvTable, rng: np.random.Generator, malformed_rate: float) -> CsvDelivery:
    n = len(t.folder_day)
    kinds_all = CSV_KINDS[t.source]
    kind = np.full(n, -1, dtype=np.int64)
    cand = np.flatnonzero(t.malformed_ok)
    if malformed_rate > 0 and len(cand):
        want = max(int(round(malformed_rate * n)), min(len(kinds_all), max(1, n // 8)))
        chosen = np.sort(rng.choice(cand, size=min(want, len(cand)), replace=False))
        kind[chosen] = pick_kinds(rng, len(chosen), len(kinds_all))
    dup = (kind < 0) & (rng.random(n) < t.p_duplicate)
    di = np.flatnonzero(dup)
    row = np.concatenate([np.arange(n), di])
    copy = np.concatenate([np.zeros(n, np.int64), np.ones(len(di), np.int64)])
    fday = np.concatenate([t.folder_day, t.folder_day[di]])
    # the copy lands somewhere later in the same file
    skey = np.concatenate([t.sort_key, t.sort_key[di] + rng.integers(1, 6 * 3_600_000, len(di))])
    order = np.lexsort((copy, row, skey, fday))
    row, copy, fday = row[order], copy[order], fday[order]
    start = np.r_[True, fday[1:] != fday[:-1]]
    fidx = np.flatnonzero(start)
    rank = np.arange(len(row)) - np.repeat(fidx, np.diff(np.r_[fidx, len(row)]))
    files = {}
    for d in np.unique(fday).tolist():
        day = str(day_text(np.asarray([d * MS_DAY]))[0])
        files[d] = f"{t.source}/arrival_date={day}/{t.filename}"
    return CsvDelivery(row=row, copy=copy, folder_day=fday, line_no=rank + 2, kind=kind, files=files)


def _row_text(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(fields)
    return buf.getvalue()[:-1]


def write_csv(out: Path, t: CsvTable, d: CsvDelivery, header_for_day, rng: np.random.Generator) -> None:
    kinds_all = CSV_KINDS[t.source]
    if not len(d.row):
        return
    bounds = np.flatnonzero(np.r_[True, d.folder_day[1:] != d.folder_day[:-1], True])
    cache: dict[tuple, np.ndarray] = {}
    for a, z in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        day = int(d.folder_day[a])
        header = header_for_day(day)
        rows = d.row[a:z]
        if tuple(header) not in cache:          # every row's line, once per header layout
            cache[tuple(header)] = csv_lines([t.text[c] if c in t.text else t.extra[c] for c in header])
        lines = cache[tuple(header)][rows]
        cols = [(t.text[c] if c in t.text else t.extra[c])[rows] for c in header]
        bad = np.flatnonzero((d.kind[rows] >= 0) & (d.copy[a:z] == 0))
        for i in bad.tolist():                     # a handful of rows per file
            fields = [str(col[i]) for col in cols]
            broken = corrupt_csv_row(fields, header, t.source, kinds_all[int(d.kind[rows[i]])], rng)
            lines[i] = _row_text(broken)
        text = _row_text(header) + "\n" + "\n".join(lines.tolist()) + "\n"
        path = out / d.files[day]
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(text.encode("utf-8"))
