"""The example queries in docs/queries/*.sql and the page generated from them, docs/queries.md.

Each file opens with a comment block: a title line, a paragraph or two saying what question
it answers, then `columns:` with one `name: meaning` line per result column. The .sql files
are what analysts copy or pipe into `journeys sql`; tests/test_sql.py runs every one on the
sample warehouse and checks its columns against that block, so the page cannot promise
columns a query does not return.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

QUERIES_DIR = Path(__file__).resolve().parents[2] / "docs" / "queries"


@dataclass(frozen=True)
class Query:
    name: str                      # file stem
    title: str
    description: str               # markdown paragraphs
    columns: tuple[tuple[str, str], ...]
    sql: str                       # the whole file, header included
    code: str                      # the SQL after the header

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]


def parse_query(name: str, text: str) -> Query:
    header = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        header.append(line[2:].removeprefix(" "))
    if not header or not header[0].strip():
        raise ValueError(f"{name}.sql: the first line must be `-- <title>`")
    body, columns, in_columns = [], [], False
    for line in header[1:]:
        if line.strip() == "columns:":
            in_columns = True
        elif in_columns:
            if m := re.fullmatch(r"\s+([a-z_][a-z0-9_]*): (.+)", line):
                columns.append((m.group(1), m.group(2).strip()))
            elif line.strip():
                raise ValueError(f"{name}.sql: expected `  column: meaning` under columns:, got {line!r}")
        else:
            body.append(line)
    if not columns:
        raise ValueError(f"{name}.sql: the header needs a `columns:` list")
    paragraphs = "\n".join(body).strip()
    description = "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", paragraphs) if p.strip())
    code = "\n".join(text.splitlines()[len(header):]).strip()
    return Query(name, header[0].strip(), description, tuple(columns), text, code)


def load_queries(folder: Path = QUERIES_DIR) -> list[Query]:
    """Every example query, in file-name order (the files are numbered for the page's order)."""
    return [parse_query(p.stem, p.read_text()) for p in sorted(folder.glob("*.sql"))]


INTRO = """\
# Example queries

Answers to the questions analysts ask most, over the published tables. Each query is a file in
[`docs/queries/`](queries/); this page is generated from those files (`python -m jobs.docs_gen`)
and `tests/test_sql.py` runs every one on a generated sample warehouse and checks that it returns
the columns listed here.

Run one with `journeys sql` (DuckDB over the warehouse; see the README, "Querying the tables"):

```
journeys sql < docs/queries/01_conversion_by_week_and_segment.sql
journeys sql --format csv < docs/queries/03_top_friction_points_this_month.sql > friction.csv
```

or paste it into the `journeys sql` shell, a notebook (`jobs.analyst.warehouse.connect`) or a
BI tool on the Spark Thrift server (`journeys thrift`): the queries stick to SQL that DuckDB and
Spark SQL both accept, and `tests/test_thrift.py` checks that Spark gives the same answers.

"This month", "the last four weeks" and similar windows are counted back from the **latest
date in the data**, not from today, so the queries answer something on the sample data and on a
warehouse that has not been refreshed for a while; replace `(SELECT max(...) ...)` with
`current_date` for a live dashboard. Rates are fractions (0.25 = 25 %); NPS is in points
(-100..100).
"""


def queries_page(queries: list[Query] | None = None) -> str:
    queries = load_queries() if queries is None else queries
    from jobs.docs_gen import HEADER

    out = [HEADER, INTRO, "\n| query | question |\n|---|---|\n"]
    for q in queries:
        question = re.split(r"(?<=[?.])\s", q.description, maxsplit=1)[0]
        out.append(f"| [{q.title}](#{_anchor(q.title)}) | {question} |\n")
    for q in queries:
        out.append(f"\n## {q.title}\n\n{q.description}\n\n`docs/queries/{q.name}.sql` returns:\n\n")
        out.append("| column | meaning |\n|---|---|\n")
        out += [f"| `{c}` | {meaning} |\n" for c, meaning in q.columns]
        out.append(f"\n```sql\n{q.code}\n```\n")
    return "".join(out)


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
