"""`journeys thrift`: the Spark Thrift server (HiveServer2 protocol, JDBC/ODBC) over the warehouse.

BI tools (Tableau, Power BI, Superset, DBeaver, beeline) speak HiveServer2; Spark ships the
server. One JVM does it all: a local Spark session with a Hive metastore in a state folder
(embedded Derby, thrown away on exit unless --state-dir keeps it), one external table per
published table with the schema of its contract, and the server started on that session, so
every JDBC connection sees the same tables. Tables point at the warehouse's Parquet in place:
nothing is copied and dropping a table never deletes data.

The metastore lists each table's partitions when the server starts: after a nightly publish,
restart the server (or run `MSCK REPAIR TABLE t` / `REFRESH TABLE t` over JDBC) to see new dates.
"""
from __future__ import annotations

import logging
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

from jobs.analyst.warehouse import tables
from jobs.contracts import Contract
from jobs.storage import table_path

log = logging.getLogger(__name__)

DATABASE = "default"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def register_sql(warehouse: str, contract: Contract) -> list[str]:
    """Spark SQL that makes one table queryable: an external Parquet table with the contract's
    columns and partitions (and its partitions listed), or, before the table's first write, an
    empty view with the same columns so queries and BI schemas do not break on a missing name."""
    root = Path(table_path(warehouse, contract.name))
    name = _ident(contract.name)
    if not any(root.rglob("*.parquet")):
        cols = ", ".join(f"CAST(NULL AS {c.type}) AS {_ident(c.name)}" for c in contract.columns)
        return [f"CREATE OR REPLACE VIEW {name} AS SELECT {cols} WHERE false"]
    # contract types are Spark DDL types already (long, integer, map<string,string>, ...)
    # comments carry the data dictionary into BI tools' schema browsers
    cols = ", ".join(f"{_ident(c.name)} {c.type} COMMENT {_literal(c.description)}" for c in contract.columns)
    ddl = f"CREATE TABLE {name} ({cols}) USING parquet"
    if contract.partition_by:
        ddl += f" PARTITIONED BY ({', '.join(_ident(p) for p in contract.partition_by)})"
    ddl += f" LOCATION {_literal(str(root.resolve()))} COMMENT {_literal(contract.description)}"
    return [ddl, *([f"MSCK REPAIR TABLE {name}"] if contract.partition_by else [])]


def server_conf(state: Path, host: str, port: int) -> dict[str, str]:
    """Spark settings for a Hive-enabled session whose metastore, warehouse and scratch space
    live under `state`; `spark.hadoop.*` reaches the HiveConf the Thrift server reads."""
    hive = {
        "hive.server2.thrift.port": str(port),
        "hive.server2.thrift.bind.host": host,
        "hive.server2.transport.mode": "binary",
        "hive.server2.logging.operation.log.location": str(state / "operation_logs"),
        "hive.exec.scratchdir": str(state / "scratch"),
        "hive.exec.local.scratchdir": str(state / "local_scratch"),
        "hive.downloaded.resources.dir": str(state / "resources"),
        "hive.metastore.warehouse.dir": str(state / "spark-warehouse"),
        "javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={state / 'metastore_db'};create=true",
    }
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(state / "spark-warehouse"),
        "spark.ui.enabled": "false",
        **{f"spark.hadoop.{k}": v for k, v in hive.items()},
    }


def server_config(config, state: Path, host: str, port: int):
    """The config the server's session starts from: `server_conf`, and Derby's home among the
    driver's JVM options, after the project's own (log4j, the class archive) and the config's."""
    # derby.log lands in derby.system.home, else in the working directory (the repo root)
    return config.with_overrides(spark={"conf": {**config.spark.conf, **server_conf(state, host, port)},
                                        "jvm_options": f"{config.spark.jvm_options} -Dderby.system.home={state}".strip()})


def wait_for_port(host: str, port: int, timeout: float, alive=lambda: True) -> bool:
    """True once something accepts TCP connections on host:port; False on timeout or when
    `alive()` turns false (the server process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.25)
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _print_ready(url: str, message: str) -> None:
    print(message, flush=True)


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop()


def serve(config, warehouse: str, *, host: str, port: int, state_dir: str | None = None,
          include_restricted: bool = False, ready=None, start_timeout: float = 120) -> None:
    """Start the server and block until SIGINT/SIGTERM; stops Spark and removes a temporary state."""
    from jobs.spark_session import get_spark

    if not Path(warehouse).is_dir():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `journeys run` or `journeys demo` first")
    with socket.socket() as s:  # fail in one line now rather than in a JVM stack trace later
        try:
            s.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    state = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="journeys-thrift-"))
    for sub in ("operation_logs", "scratch", "local_scratch", "resources"):
        (state / sub).mkdir(parents=True, exist_ok=True)  # Hive logs errors on session close otherwise
    signal.signal(signal.SIGTERM, _raise_stop)
    spark = server = None
    try:
        spark = get_spark(server_config(config, state.resolve(), host, port))
        for old in spark.catalog.listTables(DATABASE):  # a kept --state-dir: register afresh
            kind = "VIEW" if old.tableType == "VIEW" else "TABLE"
            spark.sql(f"DROP {kind} IF EXISTS {_ident(old.name)}")
        for contract in tables(include_restricted).values():
            for sql in register_sql(warehouse, contract):
                spark.sql(sql)
        jvm = spark.sparkContext._jvm
        server = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithSparkSession(
            spark._jsparkSession, False)
        if not wait_for_port(host, port, start_timeout):
            raise RuntimeError(f"the Thrift server did not listen on {host}:{port} within {start_timeout:.0f} s")
        url = f"jdbc:hive2://{host}:{port}/{DATABASE}"
        (ready or _print_ready)(url, f"Spark Thrift server ready: {url} ({len(tables(include_restricted))} "
                                     f"tables over {warehouse}; Ctrl-C stops it)")
        while True:
            time.sleep(3600)
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if server is not None:
            try:
                server.stop()
            except Exception:  # the JVM may already be going down with the process group
                log.debug("stopping the Thrift server failed", exc_info=True)
        if spark is not None:
            try:
                spark.stop()
            except Exception:
                log.debug("stopping Spark failed", exc_info=True)
        if not state_dir:
            shutil.rmtree(state, ignore_errors=True)
