"""`journeys sql`: result formatting, statement splitting, the shell, the command's exit codes,
and every example query in docs/queries/ on the sample warehouse."""
from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

from jobs import cli, docs_gen
from jobs.analyst import formatting
from jobs.analyst.queries import load_queries, parse_query
from jobs.analyst.sql_shell import Session, one_line, shell, split_statements, stream_reader
from jobs.analyst.warehouse import connect


# --- formatting ---------------------------------------------------------------------------

def test_table_aligns_numbers_right_text_left_and_counts_rows():
    out = formatting.format_table(["name", "n", "rate"], [("web", 12, 0.5), ("phone", 3, None)])
    assert out.splitlines() == [
        "name    n  rate",
        "-----  --  ----",
        "web    12   0.5",
        "phone   3  NULL",
        "(2 rows)",
    ]


def test_table_footer_singular_empty_and_capped():
    assert formatting.format_table(["a"], [(1,)]).splitlines()[-1] == "(1 row)"
    assert formatting.format_table(["a"], []).splitlines() == ["a", "-", "(0 rows)"]
    capped = formatting.format_table(["a"], [(1,), (2,)], total=5000)
    assert capped.splitlines()[-1] == "(5,000 rows; the first 2 shown, --format csv prints all)"
    assert "rows" not in formatting.format_table(["a"], [(1,)], footer=False)


def test_wide_cells_are_cut_and_nested_values_shown_as_json():
    wide = "x" * 100
    out = formatting.format_table(["w", "m"], [(wide, {"k": [1, 2]})], max_width=10)
    assert "xxxxxxxxx…" in out and wide not in out
    assert '{"k": [1, 2]}'[:9] in out
    assert formatting.cell_text("a\nb\tc") == "a b c"


@pytest.mark.parametrize("value,text", [
    (None, "NULL"), (True, "true"), (0.123456, "0.1235"), (2.0, "2"), (0.0, "0"), (1e-7, "1e-07"),
    (Decimal("1.50"), "1.50"), (date(2026, 1, 5), "2026-01-05"),
    (datetime(2026, 1, 5, 13, 10, 18), "2026-01-05 13:10:18"), (["a", None], '["a", null]'),
])
def test_cell_text(value, text):
    assert formatting.cell_text(value) == text


def test_csv_and_json_keep_full_precision_and_nulls():
    rows = [("web", 0.123456789, None, {"a": "1"}, date(2026, 1, 5)), ("a,b", 1, True, [1], None)]
    cols = ["s", "x", "b", "m", "d"]
    assert formatting.render(cols, rows, "csv") == (
        's,x,b,m,d\nweb,0.123456789,,"{""a"": ""1""}",2026-01-05\n"a,b",1,true,[1],\n')
    assert json.loads(formatting.render(cols, rows, "json")) == [
        {"s": "web", "x": 0.123456789, "b": None, "m": {"a": "1"}, "d": "2026-01-05"},
        {"s": "a,b", "x": 1, "b": True, "m": [1], "d": None}]
    assert json.loads(formatting.render(cols, [], "json")) == []
    assert formatting.plain(float("nan")) == "nan" and formatting.plain(Decimal("2.5")) == 2.5


# --- statements and errors -----------------------------------------------------------------

def test_split_statements_respects_quotes_and_comments():
    text = "SELECT ';' AS a; -- a comment; still a comment\nSELECT 'it''s;' /* ; */ AS b;\nSELECT \"x;y\" FROM t; SELECT 4"
    done, rest = split_statements(text)
    assert done == ["SELECT ';' AS a", "-- a comment; still a comment\nSELECT 'it''s;' /* ; */ AS b",
                    'SELECT "x;y" FROM t']
    assert rest == " SELECT 4"
    assert split_statements("-- only a comment;\n;  ;") == ([], "")
    assert split_statements("SELECT 1\n") == ([], "SELECT 1\n")


def test_one_line_drops_duckdbs_caret_diagram():
    with pytest.raises(duckdb.Error) as info:
        duckdb.connect().execute("SELECT * FROM journey")
    line = one_line(info.value)
    assert "\n" not in line and line.startswith("Catalog Error: Table with name journey does not exist")
    assert "LINE 1" not in line


# --- the shell, on a tiny in-memory database -------------------------------------------------

def _shell(script: str, con=None, **kw) -> tuple[str, str, int]:
    con = con or duckdb.connect()
    out, err = io.StringIO(), io.StringIO()
    session = Session(con, out=out, err=err, **kw)
    failures = shell(session, stream_reader(io.StringIO(script)), prompts=False)
    return out.getvalue(), err.getvalue(), failures


def test_shell_runs_multiline_statements_and_survives_errors():
    out, err, failures = _shell("SELECT 1 AS a,\n  2 AS b;\nSELECT nope;\n.format csv\nSELECT 3 AS c;\nSELECT 4 AS d")
    assert out == "a  b\n-  -\n1  2\n(1 row)\nc\n3\nd\n4\n"
    assert failures == 1 and err.count("\n") == 1 and err.startswith("error: Binder Error")


def test_shell_dot_commands():
    out, _, _ = _shell(".tables\n")
    assert "stage_funnel" in out and "quarantine" not in out
    out, err, failures = _shell(".schema journeys\n.schema quarantine\n.schema nope\n.format xml\n"
                                ".bogus\n.help\n.quit\nSELECT 'not reached';")
    assert re.search(r"\njourney_start_date +date +yes +Date of started_at", out)
    assert "converted: ends with a goal event" in out
    assert "not reached" not in out and "End each SQL statement with ;" in out
    assert failures == 4
    assert "restricted: start with --include-restricted" in err and "no table 'nope'" in err
    assert ".format table|csv|json" in err and "unknown command .bogus" in err
    out, _, _ = _shell(".schema quarantine\n", include_restricted=True)
    assert "raw_record" in out


def test_shell_with_prompts_and_history_free_reader():
    lines = iter(["SELECT 1 AS a", ";"])
    prompts = []

    def read(prompt):
        prompts.append(prompt)
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    shell(Session(duckdb.connect(), out=out, err=io.StringIO()), read)
    assert prompts == ["journeys> ", "     ...> ", "journeys> "]
    assert "(1 row)" in out.getvalue()


# --- `journeys sql` on the sample warehouse ----------------------------------------------------

@pytest.fixture(scope="module")
def warehouse(pipeline_warehouse):
    return pipeline_warehouse[0].warehouse


@pytest.fixture(scope="module")
def duck(warehouse):
    con = connect(warehouse)
    yield con
    con.close()


def test_command_prints_a_table(warehouse, capsys):
    assert cli.main(["sql", "--warehouse", warehouse,
                     "SELECT status, count(*) AS n FROM journeys GROUP BY status ORDER BY status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["status", "n"] and out[-1].endswith("rows)")


def test_command_formats_and_json(warehouse, capsys, duck):
    expected = duck.execute("SELECT count(*) FROM journeys").fetchone()[0]
    assert cli.main(["sql", "--warehouse", warehouse, "--format", "csv", "SELECT count(*) AS n FROM journeys"]) == 0
    assert capsys.readouterr().out == f"n\n{expected}\n"
    assert cli.main(["sql", "--warehouse", warehouse, "--json", "SELECT 1 AS x; SELECT count(*) AS n FROM journeys"]) == 0
    assert json.loads(capsys.readouterr().out) == {"columns": ["n"], "rows": [{"n": expected}], "row_count": 1}
    assert cli.main(["sql", "--warehouse", warehouse, "--quiet", "SELECT 1 AS x"]) == 0
    assert "row" not in capsys.readouterr().out


def test_command_errors_are_one_line_with_exit_codes(warehouse, tmp_path, capsys):
    assert cli.main(["sql", "--warehouse", warehouse, "SELECT * FROM journey"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("journeys: sql failed: Catalog Error") and '"journeys"' in err
    assert cli.main(["sql", "--warehouse", str(tmp_path / "none"), "SELECT 1"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no warehouse at" in err
    assert cli.main(["sql", "--warehouse", warehouse, "SELECT count(*) FROM quarantine"]) == cli.EXIT_FAILED
    capsys.readouterr()
    assert cli.main(["sql", "--warehouse", warehouse, "--include-restricted", "--format", "csv",
                     "SELECT count(*) > 0 AS has_rows FROM quarantine"]) == 0
    assert capsys.readouterr().out == "has_rows\ntrue\n"


def test_shell_process_reads_piped_statements(warehouse):
    script = ".tables\nSELECT count(*) AS n\n  FROM journeys;\nSELECT broken;\n.format json\nSELECT 7 AS seven;\n"
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", "sql", "--warehouse", warehouse],
                          input=script, capture_output=True, text=True, timeout=60)
    assert proc.returncode == cli.EXIT_FAILED, proc.stderr
    assert "journey_paths" in proc.stdout and '{"seven": 7}' in proc.stdout and "(1 row)" in proc.stdout
    assert proc.stderr.splitlines() == [proc.stderr.splitlines()[0], "journeys: sql failed: 1 statement failed"]
    assert proc.stderr.startswith("error: Binder Error")


# --- the example queries ------------------------------------------------------------------------

QUERIES = {q.name: q for q in load_queries()}


def test_queries_page_is_generated_from_the_sql_files():
    assert len(QUERIES) >= 6
    committed = (docs_gen.DOCS / "queries.md").read_text()
    assert committed == docs_gen.GENERATED["queries.md"](), "docs/queries.md is stale: run `python -m jobs.docs_gen`"
    for q in QUERIES.values():
        assert q.code in committed and q.title in committed


def test_query_header_is_required():
    with pytest.raises(ValueError, match="columns:"):
        parse_query("x", "-- Title\n-- question\nSELECT 1")
    q = parse_query("x", "-- Title\n--\n-- Why.\n--\n-- columns:\n--   a: the a\nSELECT 1 AS a;")
    assert (q.title, q.description, q.column_names, q.code) == ("Title", "Why.", ["a"], "SELECT 1 AS a;")


def _in(lo, hi):
    return lambda v: v is None or lo <= v <= hi


# per query: column -> check on every value (None passes unless the column is listed in NOT_NULL)
CHECKS = {
    "01_conversion_by_week_and_segment": {"conversion_rate": _in(0, 1), "decided_conversion_rate": _in(0, 1),
                                          "week": lambda d: d.weekday() == 0},
    "02_dropoff_stage_by_channel": {"dropoff_rate": _in(0, 1), "share_of_channel_dropoffs": _in(0, 1),
                                    "stage_order": _in(1, 5)},
    "03_top_friction_points_this_month": {"affected_conversion_rate": _in(0, 1),
                                          "unaffected_conversion_rate": _in(0, 1), "lost_conversions": _in(0, 1e9)},
    "04_customers_with_repeat_calls": {"calls": _in(2, 1e9), "abandoned_calls": _in(0, 1e9)},
    "05_nps_ces_by_touchpoint": {"nps": _in(-100, 100), "ces": _in(1, 7), "csat_rate": _in(0, 1),
                                 "friction_rate": _in(0, 1)},
    "06_time_to_convert_by_channel": {"conversion_rate": _in(0, 1), "median_hours_to_convert": _in(0, 24 * 30)},
    "07_pipeline_health": {"quarantine_rate": _in(0, 1), "is_balanced": lambda b: b is True},
}
NOT_NULL = {"01_conversion_by_week_and_segment": ["week", "segment", "journeys", "conversion_rate"],
            "03_top_friction_points_this_month": ["touchpoint", "signal", "lost_conversions"],
            "04_customers_with_repeat_calls": ["customer_key", "calls", "queues"],
            "07_pipeline_health": ["run_date", "source", "rows_in"]}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_example_query_returns_its_documented_columns(name, duck):
    q = QUERIES[name]
    columns, rows = Session(duck).query(q.code)
    rows = list(rows)
    assert columns == q.column_names
    assert rows, f"{name} returned no rows on the sample warehouse"
    for col, check in CHECKS.get(name, {}).items():
        i = columns.index(col)
        bad = [r[i] for r in rows if not check(r[i])]
        assert not bad, f"{name}.{col}: {bad[:5]}"
    for col in NOT_NULL.get(name, []):
        assert all(r[columns.index(col)] is not None for r in rows), f"{name}.{col} has nulls"
    for r in rows:
        assert not any(isinstance(v, float) and math.isnan(v) for v in r), name


def test_example_query_answers_agree_with_the_tables(duck):
    """Cross-checks: weekly conversion and time to convert add up to the journeys table."""
    _, rows = Session(duck).query(QUERIES["01_conversion_by_week_and_segment"].code)
    rows = list(rows)
    total, converted = duck.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'converted') FROM journeys").fetchone()
    assert sum(r[2] for r in rows) == total and sum(r[3] for r in rows) == converted
    assert all(r[2] == r[3] + r[4] + r[5] for r in rows)
    rows = list(Session(duck).query(QUERIES["06_time_to_convert_by_channel"].code)[1])
    assert sum(r[1] for r in rows) == total and sum(r[2] for r in rows) == converted
