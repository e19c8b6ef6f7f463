"""Raw lines -> one text column per contract column, plus the first structural problem.

Input frames hold `source_file`, `source_line`, `value` (the raw line) and `raw_bytes`.
Output frames add one string column per contract column (null when absent or empty),
`_extras` (fields outside the contract, kept as text so schema drift loses nothing),
`_json` (JSON-typed columns as maps; NDJSON only) and `_problem`, a struct(code, detail) or null.
Everything is built-in Spark SQL; nothing here runs Python per row.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import Contract

PROBLEM = "_problem"
EXTRAS = "_extras"


def problem(code: str, detail: Column | str) -> Column:
    detail_col = F.lit(detail) if isinstance(detail, str) else detail
    return F.struct(F.lit(code).alias("code"), detail_col.alias("detail"))


def first_problem(*candidates: tuple[Column, Column], prior: Column | None = None) -> Column:
    """`prior` if set, else the first (condition, problem) whose condition holds, else null.

    `prior` is referenced once on purpose: repeating it would copy its whole expression
    tree into every later check and make plans grow exponentially."""
    whens = [F.when(cond, prob) for cond, prob in candidates]
    return F.coalesce(*([prior] if prior is not None else []), *whens)


def _looks_like_utf16(value: Column) -> Column:
    """UTF-16 text of mostly ASCII characters is valid UTF-8 with a NUL in every other byte
    (a UTF-16 newline also leaves one NUL at the start of the next line, and a NUL alone after
    the file's last newline). A NUL in every other position, never two in a row, is a wrong
    encoding, not a stray NUL."""
    length = F.length(value)
    nuls = length - F.length(F.replace(value, F.lit("\u0000"), F.lit("")))
    return (nuls > 0) & (F.abs(nuls * 2 - length) <= 1) & (F.instr(value, "\u0000\u0000") == 0)


def line_checks(value: Column, raw_bytes: Column, max_record_bytes: int) -> list[tuple[Column, Column]]:
    # the UTF-16 count replaces the whole line: only lines with a NUL in them pay for it.
    # `contains` compares bytes; `instr` also counts characters to report a position, and
    # took 9 of the 21 s a warm parse of 1.07M clickstream lines cost
    has_nul = value.contains("\u0000")
    return [
        (~F.is_valid_utf8(value), problem("INVALID_ENCODING", "line is not valid UTF-8")),
        (has_nul & _looks_like_utf16(value),
         problem("INVALID_ENCODING", "line looks like UTF-16 (a NUL byte in every other position)")),
        (has_nul, problem("NUL_BYTE", "line contains a NUL byte")),
        (raw_bytes > max_record_bytes,
         problem("RECORD_TOO_LARGE", F.format_string(f"line is %d bytes, limit {max_record_bytes}", raw_bytes))),
    ]


def strip_bom(value: Column) -> Column:
    # a prefix test, not a regex: this runs on every raw line
    return F.when(value.startswith("\ufeff"), F.substring(value, 2, 2**31 - 1)).otherwise(value)


def _blank_to_null(text: Column) -> Column:
    # nullif evaluates its argument once; when(trim(x) != "", trim(x)) extracted every field twice
    return F.nullif(F.trim(text), F.lit(""))


def drop_blank_lines(lines: DataFrame) -> DataFrame:
    """Whitespace-only lines carry no record (trailing newlines); they are not rows."""
    return lines.where(F.length(F.trim(F.col("value"))) > 0)


# ---------------------------------------------------------------- NDJSON


def parse_json_lines(lines: DataFrame, contract: Contract, max_record_bytes: int) -> DataFrame:
    """The line is parsed once into a map of variants; every field is read from that map.

    A field's JSON type (`schema_of_variant`) is asked only where the answer can be a problem:
    a value read as text that starts with `{` or `[` (nested), a numeric column's value, a
    JSON column's value that is not an object. Asked for every field of every line, it was
    about a third of the parse."""
    value = strip_bom(F.col("value"))
    pre = first_problem(*line_checks(F.col("value"), F.col("raw_bytes"), max_record_bytes))
    df = lines.withColumn("_pre", pre).withColumn(
        "_top",
        F.when(F.col("_pre").isNull(), F.try_variant_get(F.try_parse_json(value), "$", "map<string,variant>")),
    )
    known = contract.column_names
    # each field's variant and its text, computed once and referenced by the checks below
    items = df.select("*", *[F.col("_top").getItem(name).alias(_item(name)) for name in known])
    items = items.select("*", *[F.try_variant_get(F.col(_item(c.name)), "$", "string").alias(_raw_text(c.name))
                                for c in contract.columns if c.type != "json"])
    columns, type_checks = {}, []
    json_maps = {}
    for col in contract.columns:
        item = F.col(_item(col.name))
        kind = F.schema_of_variant(item)
        if col.type == "json":
            as_map = F.try_variant_get(item, "$", "map<string,string>")
            json_maps[col.name] = as_map
            columns[col.name] = F.to_json(item)
            type_checks.append((
                item.isNotNull() & as_map.isNull() & ~F.is_variant_null(item),
                problem("INVALID_TYPE", F.concat(F.lit(f"{col.name} must be a JSON object, got "), F.lower(kind))),
            ))
            continue
        text = F.col(_raw_text(col.name))
        columns[col.name] = _blank_to_null(text)
        looks_nested = text.startswith("{") | text.startswith("[")
        type_checks.append((
            looks_nested & (kind.startswith("OBJECT") | kind.startswith("ARRAY")),
            problem("INVALID_TYPE", F.concat(F.lit(f"{col.name} must be a {col.type}, got "),
                                             F.lower(F.regexp_extract(kind, r"^(\w+)", 1)))),
        ))
        if col.type in ("integer", "double"):
            type_checks.append((
                text.isNotNull() & (kind == "STRING"),
                problem("INVALID_TYPE", f"{col.name} must be a JSON number, got a string"),
            ))
    present = sum(F.col(_item(name)).isNotNull().cast("int") for name in known)
    extras = F.when(F.size(F.col("_top")) > present, F.transform_values(
        F.map_filter(F.col("_top"), lambda k, v: ~k.isin(known)),
        lambda k, v: F.try_variant_get(v, "$", "string"),
    ))
    structural = first_problem(
        (F.col("_top").isNull(), problem("MALFORMED_JSON", "line is not a JSON object")),
        *type_checks,
        prior=F.col("_pre"),
    )
    out = items.select(
        "source_file", "source_line", "value", "raw_bytes",
        *[c.alias(name) for name, c in columns.items()],
        F.coalesce(extras, F.create_map().cast("map<string,string>")).alias(EXTRAS),
        *([F.struct(*[m.alias(n) for n, m in json_maps.items()]).alias("_json")] if json_maps else []),
        structural.alias(PROBLEM),
    )
    return out


def _item(name: str) -> str:
    return f"_item_{name}"


def _raw_text(name: str) -> str:
    return f"_raw_{name}"


# ---------------------------------------------------------------- CSV


@dataclass(frozen=True)
class CsvHeader:
    """The parsed header of one or more files sharing it."""
    names: tuple[str, ...]            # contract names after column_mapping, in file order
    files: tuple[str, ...]

    def index(self, name: str) -> int | None:
        return self.names.index(name) if name in self.names else None


def read_header(line: str, delimiter: str, mapping: dict[str, str]) -> tuple[str, ...]:
    """Header names as contract names: BOM stripped, trimmed, lower-cased, mapped."""
    reverse = {src.strip().lower(): dst for dst, src in mapping.items()}
    fields = next(csv.reader([line.lstrip("\ufeff")], delimiter=delimiter), [])
    names = []
    for raw in fields:
        name = raw.strip().lower()
        names.append(reverse.get(name, name))
    return tuple(names)


def group_headers(header_lines: list[tuple[str, str]], delimiter: str, mapping: dict[str, str]) -> list[CsvHeader]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for source_file, line in sorted(header_lines):
        groups.setdefault(read_header(line, delimiter, mapping), []).append(source_file)
    return [CsvHeader(names, tuple(files)) for names, files in groups.items()]


def _field_count(value: Column, delimiter: str) -> Column:
    """Delimiters outside double quotes, plus one (quotes are balanced when this is asked).

    No regex over quoted fields: Java's regex engine recurses once per character of a
    repeated group, so `"(?:[^"]|"")*"` overflowed the stack on a quoted field of a few
    hundred KB and the executor's StackOverflowError shut the whole Spark context down.
    Splitting on the quote character instead leaves the text outside quotes at the even
    positions (a doubled quote inside a field adds an empty piece, which holds no delimiter)."""
    outside = F.array_join(F.filter(F.split(value, '"', -1), lambda piece, i: i % 2 == 0), "")
    return F.length(outside) - F.length(F.replace(outside, F.lit(delimiter), F.lit(""))) + 1


def parse_csv_lines(lines: DataFrame, header: CsvHeader, contract: Contract, delimiter: str,
                    max_record_bytes: int) -> DataFrame:
    """Parse the data lines of the files in one header group (header lines excluded by the caller)."""
    width = len(header.names)
    value = strip_bom(F.col("value"))
    schema = ", ".join(f"_c{i} string" for i in range(width + 1))
    parsed = F.from_csv(value, schema, {"sep": delimiter, "quote": '"', "escape": '"', "mode": "PERMISSIVE"})
    df = lines.where(F.col("source_file").isin(list(header.files))).withColumn("_p", parsed)

    missing = [c.name for c in contract.columns if c.required and header.index(c.name) is None]
    n_fields = _field_count(value, delimiter)
    structural = first_problem(
        *line_checks(F.col("value"), F.col("raw_bytes"), max_record_bytes),
        (F.lit(bool(missing)), problem("MISSING_COLUMN", f"file header lacks required column(s): {', '.join(missing)}")),
        ((F.length(value) - F.length(F.replace(value, F.lit('"'), F.lit("")))) % 2 == 1,
         problem("MALFORMED_CSV", "unbalanced double quote")),
        (n_fields != width,
         problem("WRONG_COLUMN_COUNT", F.format_string(f"%d fields, header has {width}", n_fields))),
    )
    columns = []
    for col in contract.columns:
        idx = header.index(col.name)
        text = _blank_to_null(F.col(f"_p._c{idx}")) if idx is not None else F.lit(None).cast("string")
        columns.append(text.alias(col.name))
    extra_names = [(i, n) for i, n in enumerate(header.names) if n not in contract.column_names]
    extras = (
        F.create_map(*[x for i, n in extra_names for x in (F.lit(n), _blank_to_null(F.col(f"_p._c{i}")))])
        if extra_names else F.create_map().cast("map<string,string>")
    )
    return df.select(
        "source_file", "source_line", "value", "raw_bytes",
        *columns,
        extras.alias(EXTRAS),
        structural.alias(PROBLEM),
    )


# ---------------------------------------------------------------- Parquet exports


def parse_table_rows(rows: DataFrame, contract: Contract, mapping: dict[str, str]) -> DataFrame:
    """Rows of a columnar export (already in a frame) -> the same staged shape as text sources."""
    reverse = {src.lower(): dst for dst, src in mapping.items()}
    data_cols = [c for c in rows.columns if c not in ("source_file", "source_line")]
    renamed = {c: reverse.get(c.lower(), c.lower()) for c in data_cols}

    def as_text(c: str) -> Column:
        dtype = dict(rows.dtypes)[c]
        if dtype.startswith(("struct", "array", "map")):
            return F.to_json(F.col(f"`{c}`"))
        return F.col(f"`{c}`").cast("string")

    value = F.to_json(F.struct(*[F.col(f"`{c}`") for c in data_cols]))
    by_name = {renamed[c]: c for c in data_cols}
    columns = [
        (_blank_to_null(as_text(by_name[col.name])) if col.name in by_name else F.lit(None).cast("string")).alias(col.name)
        for col in contract.columns
    ]
    extra = [c for c in data_cols if renamed[c] not in contract.column_names]
    extras = (F.create_map(*[x for c in extra for x in (F.lit(renamed[c]), as_text(c))])
              if extra else F.create_map().cast("map<string,string>"))
    missing = [c.name for c in contract.columns if c.required and c.name not in by_name]
    structural = first_problem(
        (F.lit(bool(missing)), problem("MISSING_COLUMN", f"export lacks required column(s): {', '.join(missing)}")),
    )
    return rows.select(
        "source_file", "source_line", value.alias("value"), F.octet_length(value).cast("long").alias("raw_bytes"),
        *columns, extras.alias(EXTRAS), structural.alias(PROBLEM),
    )
