"""The JVM options a session starts with: the project's own, then the config's `jvm_options`."""
from jobs.spark_session import java_options


def test_config_jvm_options_come_last_so_they_win(base_config):
    cfg = base_config.with_overrides(spark={"jvm_options": "-XX:TieredStopAtLevel=1 -Dx=y"})
    driver, executor = java_options(cfg, driver=True), java_options(cfg, driver=False)
    assert driver.startswith("-Dlog4j2.configurationFile=file:") and driver.endswith("-XX:TieredStopAtLevel=1 -Dx=y")
    assert driver.index("-XX:-DontCompileHugeMethods") < driver.index("-XX:TieredStopAtLevel=1")
    assert executor == "-XX:-DontCompileHugeMethods -XX:TieredStopAtLevel=1 -Dx=y"  # log4j config is the driver's
    assert java_options(base_config, driver=False) == "-XX:-DontCompileHugeMethods"  # none by default


def test_the_running_driver_jvm_got_them(spark, base_config):
    args = list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert "-XX:-DontCompileHugeMethods" in args
    assert any(a.startswith("-Dlog4j2.configurationFile=") and a.endswith("/jobs/log4j2.properties") for a in args)
    # Spark puts its own module flags in front
    assert spark.sparkContext.getConf().get("spark.driver.extraJavaOptions").endswith(java_options(base_config, driver=True))
