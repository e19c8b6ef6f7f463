"""Wiring for `journeys_nightly`: deployment settings, the run's arrival date, the extract
task body and the Spark step operator. Pipeline logic lives in `jobs/`; anything heavy is
imported inside the functions, so parsing the DAG stays fast.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from datetime import date, timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# spark-submit exit codes of jobs.steps that no retry can fix: 1 = the run failed
# (validation or reconciliation), 2 = bad usage or configuration.
NOT_RETRYABLE = {1: "the run failed (validation or reconciliation)", 2: "bad usage or configuration"}


@dataclass(frozen=True)
class Settings:
    """Deployment settings from the environment: the DAG file reads no files when parsed."""
    config_path: str
    timezone: str
    cron: str
    start_date: str
    spark_conn_id: str
    application: str
    owner: str
    retry_delay: int  # seconds before a failed task's first retry (then doubled each time)


def settings(env=os.environ) -> Settings:
    """Read and check the settings; a bad one is an import error naming the variable."""
    import pendulum

    s = Settings(
        config_path=env.get("JOURNEYS_CONFIG") or os.path.join(_REPO, "config", "journeys.yaml"),
        timezone=env.get("JOURNEYS_TIMEZONE", "UTC"),
        cron=env.get("JOURNEYS_SCHEDULE", "0 2 * * *"),
        start_date=env.get("JOURNEYS_START_DATE", "2026-01-01"),
        spark_conn_id=env.get("JOURNEYS_SPARK_CONN_ID", "spark_default"),
        application=env.get("JOURNEYS_SPARK_APPLICATION") or os.path.join(_REPO, "jobs", "steps.py"),
        owner=env.get("JOURNEYS_OWNER", "data-engineering"),
        retry_delay=_seconds(env, "JOURNEYS_RETRY_DELAY", 300),
    )
    try:
        pendulum.timezone(s.timezone)
    except Exception:
        raise ValueError(f"JOURNEYS_TIMEZONE: unknown time zone {s.timezone!r} (e.g. UTC, America/Chicago)") from None
    try:
        pendulum.parse(s.start_date)
    except Exception:
        raise ValueError(f"JOURNEYS_START_DATE: not a date (YYYY-MM-DD): {s.start_date!r}") from None
    if len(s.cron.split()) != 5:
        raise ValueError(f"JOURNEYS_SCHEDULE: not a 5-field cron expression: {s.cron!r}")
    return s


def _seconds(env, name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name}: not a whole number of seconds, at least 1: {text!r}")
    return int(text)


def arrival_date(context, timezone: str) -> date:
    """The one date a run processes: the `arrival_date` param when given, else the day before
    the run in the schedule's zone. A cron run's data interval has zero length in Airflow 3
    (it starts and ends at the logical date), so the interval cannot name the day."""
    import pendulum

    override = (context.get("params") or {}).get("arrival_date")
    if override:
        try:
            return date.fromisoformat(str(override))
        except ValueError:
            raise AirflowFailException(f"params.arrival_date must be YYYY-MM-DD, got {override!r}") from None
    when = context.get("logical_date") or context["dag_run"].run_after  # manual runs may have no logical date
    return pendulum.instance(when).in_timezone(timezone).date() - timedelta(days=1)


def load_config(path: str):
    from jobs.config import ConfigError, load_config as load

    try:
        return load(path)
    except ConfigError as exc:
        raise AirflowFailException(f"journeys config: {exc}") from None


def crm_url_from_connection(conn_id: str):
    """SQLAlchemy URL of an Airflow connection (its hook knows the dialect), or None if there is none."""
    from airflow.sdk import Connection

    try:
        conn = Connection.get(conn_id)
    except Exception:  # not defined: the caller reports both ways of giving the URL
        return None
    hook = conn.get_hook()
    try:
        return hook.sqlalchemy_url
    except (AttributeError, NotImplementedError):
        return hook.get_uri()


def extract_source(source: str, day: str, config_path: str, force: bool) -> dict:
    from jobs.extract import ExtractError, run_extract

    config = load_config(config_path)
    try:
        result = run_extract(config, source, date.fromisoformat(day), force=force,
                             from_connection=crm_url_from_connection)
    except ExtractError as exc:  # a late delivery or an unreachable database: retried with backoff
        raise AirflowException(f"extract {source} {day}: {exc}") from None
    summary = result.summary()
    print(f"{source} {day}: {summary['method']}, {summary['file_count']} files, {summary['bytes']} bytes"
          f"{'' if result.rows is None else f', {result.rows} rows'} from {summary['origin']}"
          f"{'; ' + result.note if result.note else ''}")
    return summary


def _pii_key(config) -> str | None:
    """The HMAC key for a driver started here: the worker's environment, else the Airflow connection."""
    if os.environ.get(config.pii.key_env):
        return None  # inherited by spark-submit with the rest of the environment
    if not config.pii.airflow_conn_id:
        return None
    from airflow.sdk import Connection
    from airflow.sdk.log import mask_secret

    try:
        secret = Connection.get(config.pii.airflow_conn_id).password
    except Exception:  # the step reports the missing key itself, with the settings to fix
        return None
    if secret:
        mask_secret(secret)
    return secret


class JourneysSparkSubmitOperator(SparkSubmitOperator):
    """One `jobs.steps` step through spark-submit; the Spark connection decides where it runs.

    Beyond SparkSubmitOperator: the driver gets the PII key without it ever being a rendered
    template field (client mode only; in cluster mode the cluster must supply it), the
    config's driver memory applies unless given, the step's own exit codes 1 and 2 fail the
    task without retries, and published assets carry the arrival date.
    """

    def __init__(self, *, step: str, day, config_path: str, **kwargs):
        kwargs.setdefault("name", f"journeys-{step}")
        super().__init__(application_args=[step, "--config", config_path, "--date", day], **kwargs)
        self.step = step
        self.config_path = config_path

    def execute(self, context):
        config = load_config(self.config_path)
        probe = self._get_hook()
        master, deploy_mode = probe._connection["master"], probe._connection["deploy_mode"]
        on_cluster_manager = "yarn" in master or "k8s" in master
        driver_here = deploy_mode != "cluster" and not on_cluster_manager
        env = dict(self.env_vars or {})
        if driver_here:
            env.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON") or sys.executable)
            # the driver JVM is started by spark-submit, before jobs.spark_session could set these
            from jobs.jvm import java_options

            java = java_options(config, driver=True)
            self.conf = {"spark.driver.extraJavaOptions": java, **(self.conf or {})}
            if master.startswith("local"):
                env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
                self.conf = {"spark.ui.enabled": "false", **self.conf}
            key = _pii_key(config)
            if key:
                env[config.pii.key_env] = key
        if driver_here or on_cluster_manager:  # spark-submit refuses env_vars in standalone cluster mode
            env.setdefault("SPARK_SUBMITTED", "1")  # jobs.spark_session then leaves the master to spark-submit
            self.env_vars = env
        if self._driver_memory is None:
            self._driver_memory = config.spark.driver_memory
        self._hook = None
        self.log.info("journeys step %s for %s on %s%s", self.step, self.application_args[-1], master,
                      f" ({deploy_mode} mode)" if deploy_mode else "")
        try:
            super().execute(context)
        except AirflowException as exc:
            code = getattr(getattr(self._hook, "_submit_sp", None), "returncode", None)
            if code is None:
                match = re.search(r"Error code is: (\d+)", str(exc))
                code = int(match.group(1)) if match else None
            if code in NOT_RETRYABLE:
                raise AirflowFailException(f"step {self.step} exited with {code}: {NOT_RETRYABLE[code]}; "
                                           "the reason is in the log above; not retried") from None
            raise
        for asset in self.outlets or []:
            context["outlet_events"][asset].extra = {"arrival_date": str(self.application_args[-1])}
