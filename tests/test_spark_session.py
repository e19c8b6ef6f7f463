"""The JVM options a session starts with: the project's own, the class archive, then the
config's `jvm_options`; and the class archive scripts/setup.sh built is really mapped."""
import logging
from pathlib import Path

import pytest

from jobs import jvm
from jobs.cli import main as cli
from jobs.config import load_config
from jobs.spark_session import java_options, session_conf
from tests.conftest import ROOT


def test_config_jvm_options_come_last_so_they_win(base_config):
    cfg = base_config.with_overrides(spark={"jvm_options": "-XX:TieredStopAtLevel=1 -Dx=y", "class_archive": ""})
    driver, executor = java_options(cfg, driver=True), java_options(cfg, driver=False)
    assert driver.startswith("-Dlog4j2.configurationFile=file:") and driver.endswith("-XX:TieredStopAtLevel=1 -Dx=y")
    assert driver.index("-XX:-DontCompileHugeMethods") < driver.index("-XX:TieredStopAtLevel=1")
    assert executor == "-XX:-DontCompileHugeMethods -XX:TieredStopAtLevel=1 -Dx=y"  # log4j config is the driver's
    assert java_options(cfg.with_overrides(spark={"jvm_options": ""}), driver=False) == "-XX:-DontCompileHugeMethods"


def test_the_drivers_class_archive_goes_before_the_configs_options_and_a_missing_one_is_skipped(base_config, tmp_path,
                                                                                         caplog):
    archive = tmp_path / "classes.jsa"
    archive.write_bytes(b"\0")
    cfg = base_config.with_overrides(spark={"class_archive": str(archive), "jvm_options": "-Xshare:off"})
    assert java_options(cfg, driver=True).endswith(f"-XX:SharedArchiveFile={archive} -Xshare:off")
    # a cluster's executors start on other machines, where the driver's file may not be
    assert java_options(cfg, driver=False) == "-XX:-DontCompileHugeMethods -Xshare:off"
    missing = cfg.with_overrides(spark={"class_archive": str(tmp_path / "gone.jsa")})
    with caplog.at_level(logging.WARNING, logger="jobs.jvm"):
        assert "SharedArchiveFile" not in java_options(missing, driver=True)
        assert "SharedArchiveFile" not in java_options(missing, driver=True)  # said once
    warnings = [r.getMessage() for r in caplog.records if r.name == "jobs.jvm"]
    assert len(warnings) == 1 and "gone.jsa does not exist" in warnings[0] and "journeys class-archive" in warnings[0]


def test_a_relative_class_archive_is_relative_to_the_config_file(tmp_path):
    text = (ROOT / "config" / "journeys.yaml").read_text().replace("../.venv/journeys-classes.jsa", "jvm/classes.jsa")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "journeys.yaml").write_text(text)
    assert load_config(tmp_path / "cfg" / "journeys.yaml").spark.class_archive == str(tmp_path / "cfg" / "jvm" / "classes.jsa")
    assert load_config(ROOT / "config" / "journeys.yaml").spark.class_archive == str(ROOT / ".venv" / "journeys-classes.jsa")


def test_class_archive_without_a_destination_is_a_usage_error(tmp_path, capsys):
    text = (ROOT / "config" / "journeys.yaml").read_text().replace("../.venv/journeys-classes.jsa", "''")
    (tmp_path / "journeys.yaml").write_text(text)
    assert cli(["class-archive", "--config", str(tmp_path / "journeys.yaml")]) == 2
    assert "give --out or set spark.class_archive" in capsys.readouterr().err


@pytest.mark.parametrize("version, major", [("17.0.15", 17), ("21.0.5", 21), ("22", 22), ("1.8.0_402", 8),
                                            ("25-ea", None)])
def test_the_java_version_is_read_from_the_jdks_release_file(tmp_path, version, major):
    (tmp_path / "release").write_text(f'IMPLEMENTOR="Debian"\nJAVA_VERSION="{version}"\nOS_NAME="Linux"\n')
    assert jvm.java_major(str(tmp_path)) == major
    assert jvm.java_major(str(tmp_path / "no-such-jdk")) is None


def test_the_gc_locker_retries_are_raised_only_on_the_javas_that_know_the_flag():
    # an unknown -XX flag stops a JVM from starting: Java 22 dropped this one
    raised = ["-XX:+UnlockDiagnosticVMOptions", "-XX:GCLockerRetryAllocationCount=100"]
    assert jvm.gc_locker_options(17) == jvm.gc_locker_options(21) == raised
    assert jvm.gc_locker_options(22) == jvm.gc_locker_options(25) == jvm.gc_locker_options(None) == []


def test_the_running_driver_jvm_got_them_and_maps_the_class_archive(spark, base_config):
    archive = base_config.spark.class_archive
    assert Path(archive).is_file(), f"{archive} is missing: `bash scripts/setup.sh` builds it"
    args = list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert "-XX:-DontCompileHugeMethods" in args and f"-XX:SharedArchiveFile={archive}" in args
    running = int(spark._jvm.java.lang.Runtime.version().feature())
    assert jvm.java_major() == running
    assert all(flag in args for flag in jvm.gc_locker_options(running))
    if 17 <= running <= 21:
        assert "-XX:GCLockerRetryAllocationCount=100" in args
    assert any(a.startswith("-Dlog4j2.configurationFile=") and a.endswith("/jobs/log4j2.properties") for a in args)
    # Spark puts its own module flags in front
    assert spark.sparkContext.getConf().get("spark.driver.extraJavaOptions").endswith(java_options(base_config, driver=True))
    # the JVM maps an archive it accepts into memory; one built by another JVM or against
    # another class path it would refuse, with a warning, and run without
    pid = spark._jvm.java.lang.ProcessHandle.current().pid()
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert archive in maps, f"the driver JVM did not map {archive}: rebuild it with `journeys class-archive`"


@pytest.fixture(autouse=True)
def _fresh_warnings():
    jvm._warned.clear()
    yield
    jvm._warned.clear()


def test_a_damaged_class_archive_is_refused_before_it_is_put_in_place(base_config, tmp_path):
    """A JVM that maps a truncated archive dies of SIGBUS before Spark starts, so the builder
    starts one on the new archive before renaming it into place."""
    damaged = tmp_path / "truncated.jsa"
    with open(base_config.spark.class_archive, "rb") as whole:
        damaged.write_bytes(whole.read(1 << 20))
    problem = jvm._archive_problem(damaged, tmp_path)
    assert problem and problem.startswith("a JVM started on it failed"), problem
    assert jvm._archive_problem(Path(base_config.spark.class_archive), tmp_path) is None


def test_files_are_read_and_shuffles_coalesced_into_as_many_pieces_as_shuffles_make(base_config):
    eight = base_config.with_overrides(spark={"shuffle_partitions": 8, "conf": {}})
    conf = session_conf(eight)
    assert conf["spark.sql.shuffle.partitions"] == conf["spark.sql.files.minPartitionNum"] == "8"
    assert conf["spark.sql.adaptive.coalescePartitions.minPartitionNum"] == "8"
    own = eight.with_overrides(spark={"conf": {"spark.sql.files.minPartitionNum": "3",
                                               "spark.sql.session.timeZone": "Europe/Paris"}})
    conf = session_conf(own)
    assert conf["spark.sql.files.minPartitionNum"] == "3"
    assert conf["spark.sql.session.timeZone"] == "UTC"  # correctness settings cannot be overridden


def test_the_running_session_got_the_read_pieces(spark, base_config):
    assert spark.conf.get("spark.sql.files.minPartitionNum") == str(base_config.spark.shuffle_partitions)


def test_pyspark_records_no_call_sites_unless_the_config_asks(spark, base_config):
    # the tests' session is built from session_conf like every other: the setting reached it
    assert spark.conf.get("spark.python.sql.dataFrameDebugging.enabled") == "false"
    from pyspark.errors.utils import is_debugging_enabled

    assert not is_debugging_enabled()
    asks = base_config.with_overrides(spark={"conf": {"spark.python.sql.dataFrameDebugging.enabled": "true"}})
    assert session_conf(asks)["spark.python.sql.dataFrameDebugging.enabled"] == "true"



def test_the_ui_keeps_a_bounded_history_that_the_config_can_widen():
    shipped = load_config(ROOT / "config" / "journeys.yaml")
    conf = session_conf(shipped)
    assert conf["spark.sql.ui.retainedExecutions"] == "200" and conf["spark.ui.retainedTasks"] == "20000"
    wide = shipped.with_overrides(spark={"conf": {"spark.sql.ui.retainedExecutions": "1000"}})
    assert session_conf(wide)["spark.sql.ui.retainedExecutions"] == "1000"

def _commands(spark, build) -> int:
    """py4j commands sent to the JVM while `build()` runs a second time (the first may still
    resolve the names it uses)."""
    build()
    client = spark.sparkContext._gateway._gateway_client
    sent = []
    real = client.send_command
    client.send_command = lambda *a, **k: (sent.append(a[0]), real(*a, **k))[1]
    try:
        build()
    finally:
        del client.send_command
    return len(sent)


def test_jvm_classes_and_static_methods_are_looked_up_once(spark):
    from pyspark.sql import functions as F

    # a column function is one call into the JVM, not three (class, method, call)
    assert _commands(spark, lambda: F.col("a")) == 1
    assert _commands(spark, lambda: F.lit(1)) == 1
    assert spark.range(3).select((F.col("id") * 2).alias("x")).collect()[-1].x == 4  # still right
    jvm = spark.sparkContext._jvm
    assert jvm.functions is jvm.functions and jvm.java.lang.Integer is jvm.java.lang.Integer
    # a static field's value is read from the JVM every time, never kept
    integer = jvm.java.lang.Integer
    assert integer.MAX_VALUE == 2**31 - 1 and "MAX_VALUE" not in vars(integer)
    assert _commands(spark, lambda: integer.MAX_VALUE) == 1
    # a name the JVM does not know is still an error, and is not remembered as anything
    with pytest.raises(Exception, match="does not exist"):
        jvm.functions.no_such_function_here
    assert "no_such_function_here" not in vars(jvm.functions)
