"""`journeys thrift`: the Spark Thrift server over the sample warehouse answers a HiveServer2
client (PySpark's beeline) like DuckDB does, and stops without leaving a JVM behind; the
example queries run on Spark SQL as well as DuckDB."""
from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest

from jobs import cli
from jobs.analyst.queries import load_queries
from jobs.analyst.thrift import free_port, register_sql, server_conf, server_config, wait_for_port
from jobs.jvm import java_options
from jobs.analyst.warehouse import connect, tables
from jobs.contracts import table_contract
from jobs.storage import read_table

BEELINE = Path(pyspark.__file__).parent / "bin" / "beeline"
START_TIMEOUT = 120  # a loaded 2-core CI box; the server is usually up in 15-25 s


def test_register_sql_uses_the_contract(tmp_path):
    events = table_contract("events")
    assert register_sql(str(tmp_path), events) == [
        "CREATE OR REPLACE VIEW `events` AS SELECT "
        + ", ".join(f"CAST(NULL AS {c.type}) AS `{c.name}`" for c in events.columns) + " WHERE false"]
    part = tmp_path / "events" / "event_date=2026-01-05" / "arrival_date=2026-01-05"
    part.mkdir(parents=True)
    (part / "part-0.parquet").write_bytes(b"")
    create, repair = register_sql(str(tmp_path), events)
    assert create.startswith("CREATE TABLE `events` (`event_id` string COMMENT 'sha256 of source")
    assert "`attributes` map<string,string> COMMENT" in create
    assert f"PARTITIONED BY (`event_date`, `arrival_date`) LOCATION '{tmp_path / 'events'}'" in create
    assert repair == "MSCK REPAIR TABLE `events`"


def test_server_state_stays_in_the_state_folder(tmp_path, base_config):
    conf = server_conf(tmp_path, "127.0.0.1", 10123)
    assert conf["spark.hadoop.hive.server2.thrift.port"] == "10123"
    assert conf["spark.hadoop.hive.server2.thrift.bind.host"] == "127.0.0.1"
    paths = [v for k, v in conf.items() if "dir" in k or "location" in k or "ConnectionURL" in k]
    assert len(paths) >= 6 and all(str(tmp_path) in v for v in paths)
    # the driver's JVM options stay the project's (log4j, the class archive) plus Derby's home
    assert not any("extraJavaOptions" in k for k in conf)
    cfg = base_config.with_overrides(spark={"jvm_options": "-Dx=y"})
    driver = java_options(server_config(cfg, tmp_path, "127.0.0.1", 10123), driver=True)
    assert driver == f"{java_options(cfg, driver=True)} -Dderby.system.home={tmp_path}"
    assert "-Dlog4j2.configurationFile=" in driver and f"-XX:SharedArchiveFile={cfg.spark.class_archive}" in driver


def test_thrift_command_usage_errors(tmp_path, capsys):
    assert cli.main(["thrift", "--warehouse", str(tmp_path / "none")]) == cli.EXIT_USAGE
    assert "no warehouse at" in capsys.readouterr().err
    assert cli.main(["thrift", "--warehouse", str(tmp_path), "--port", "0"]) == cli.EXIT_USAGE
    capsys.readouterr()
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["thrift", "--warehouse", str(tmp_path), "--port", str(port)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the whole group (the Python driver and its JVM), SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        if not _group_alive(proc.pid):
            break
        os.killpg(proc.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(proc.pid):
            if proc.poll() is None:
                try:
                    proc.wait(0.2)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.2)
    if proc.poll() is None:
        proc.wait(5)


@pytest.fixture(scope="module")
def server(pipeline_warehouse, tmp_path_factory):
    warehouse = pipeline_warehouse[0].warehouse
    root = tmp_path_factory.mktemp("thrift")
    port, log = free_port(), root / "server.log"
    cmd = [sys.executable, "-m", "jobs.cli", "thrift", "--host", "127.0.0.1", "--port", str(port),
           "--warehouse", warehouse, "--state-dir", str(root / "state")]
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=root, start_new_session=True)
    try:
        if not wait_for_port("127.0.0.1", port, START_TIMEOUT, alive=lambda: proc.poll() is None):
            pytest.fail(f"the Thrift server did not accept connections on 127.0.0.1:{port} within "
                        f"{START_TIMEOUT} s (exit code {proc.poll()}); last lines of {log}:\n{_tail(log)}")
        yield {"port": port, "proc": proc, "log": log, "root": root, "warehouse": warehouse}
    finally:
        _stop(proc)


def beeline(port: int, sql: str) -> list[list[str]]:
    proc = subprocess.run([str(BEELINE), "-u", f"jdbc:hive2://127.0.0.1:{port}/default", "-n", "analyst",
                           "--silent=true", "--showHeader=true", "--outputformat=csv2", "-e", sql],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"beeline failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    # beeline echoes its prompt in front of the first line of output
    lines = (re.sub(r"^\d+: jdbc:hive2://\S+> ", "", line) for line in proc.stdout.splitlines())
    return [line.split(",") for line in lines if line and not line.startswith("0: jdbc")]


def test_thrift_server_answers_like_duckdb(server):
    rows = beeline(server["port"], "SHOW TABLES; SELECT status, count(*) AS n FROM journeys GROUP BY status")
    split = rows.index(["status", "n"])
    assert rows[0] == ["namespace", "tableName", "isTemporary"]
    assert sorted(r[1] for r in rows[1:split]) == sorted(tables())  # quarantine is not served
    via_thrift = {status: int(n) for status, n in rows[split + 1:]}
    con = connect(server["warehouse"])
    via_duckdb = dict(con.execute("SELECT status, count(*) FROM journeys GROUP BY status").fetchall())
    con.close()
    assert via_thrift == via_duckdb and sum(via_thrift.values()) > 0


def test_stopping_the_server_leaves_no_jvm(server):
    proc = server["proc"]
    assert proc.poll() is None, _tail(server["log"])
    _stop(proc, timeout=30)
    assert not _group_alive(proc.pid), "processes of the server's group survived SIGTERM and SIGKILL"
    assert not (server["root"] / "derby.log").exists() and not (server["root"] / "metastore_db").exists()
    assert (server["root"] / "state" / "metastore_db").is_dir()


def _normal(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, (list, tuple)):
        return tuple(_normal(v) for v in value)
    return value


def _close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, abs_tol=2e-3)
    return a == b


def test_example_queries_run_on_spark_sql_too(spark, pipeline_warehouse):
    """docs/queries.md promises SQL that Spark (the Thrift server) accepts: same answers there."""
    warehouse = pipeline_warehouse[0].warehouse
    session = spark.newSession()  # its own temp views
    for name in tables():
        df = read_table(session, warehouse, name)
        if df is not None:
            df.createOrReplaceTempView(name)
    con = connect(warehouse)
    for q in load_queries():
        sql = q.code.rstrip().rstrip(";")
        got = session.sql(sql)
        assert got.columns == q.column_names, q.name
        spark_rows = sorted((tuple(r) for r in got.collect()), key=lambda r: repr(tuple(map(_normal, r))))
        duck_rows = sorted(con.execute(sql).fetchall(), key=lambda r: repr(tuple(map(_normal, r))))
        assert len(spark_rows) == len(duck_rows), q.name
        for s, d in zip(spark_rows, duck_rows):
            assert all(_close(a, b) for a, b in zip(s, d)), f"{q.name}: Spark {s} != DuckDB {d}"
    con.close()
