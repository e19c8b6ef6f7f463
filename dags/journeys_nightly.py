"""journeys_nightly: one arrival date per run, extract -> normalize (raw GX gate) -> build ->
validate (output GX gate) -> publish -> report. See docs/orchestration.md."""
from __future__ import annotations

from datetime import date, timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, chain, dag, task
from journeys_assets import TABLE_ASSETS
from journeys_tasks import JourneysSparkSubmitOperator, arrival_date, extract_source, settings

SETTINGS = settings()
SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")

DOC = f"""
### Customer journeys, nightly

Each run processes **one arrival date**: the day before the run in `{SETTINGS.timezone}`
(cron `{SETTINGS.cron}`), or the `arrival_date` param when given. Runs go one at a time
(`max_active_runs=1`) because identity resolution builds on the previous day's state.

1. `choose_date` logs the date every later task uses.
2. `extract_<source>` copies the day's delivery from the landing zone into the raw zone
   (CRM customers from SQL when `extract.crm_sql.enabled`), with `_manifest.json`.
3. `normalize` runs the raw Great Expectations suites (a critical failure stops the run and
   logs the failing expectations), normalizes, reconciles and stages `events`, `quarantine`,
   `crm_customers`.
4. `build` resolves identities and builds journeys (staged).
5. `validate` runs the output suites on the staged tables; a critical failure publishes nothing.
6. `publish` swaps the staged partitions in, appends `pipeline_runs` and updates the assets
   `journeys.<table>`.
7. `report` logs reconciliation per source and rows per table.

Config `{SETTINGS.config_path}`; Spark connection `{SETTINGS.spark_conn_id}`.
Backfill: `airflow backfill create --dag-id journeys_nightly --from-date A --to-date B`.
Rerun a date: clear its run, or trigger with `{{"arrival_date": "YYYY-MM-DD"}}`.
"""


@dag(
    dag_id="journeys_nightly",
    schedule=CronTriggerTimetable(SETTINGS.cron, timezone=SETTINGS.timezone),
    start_date=pendulum.parse(SETTINGS.start_date, tz=SETTINGS.timezone),
    catchup=True,  # a missed night is processed, in order, rather than skipped
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=12),
    default_args={
        "owner": SETTINGS.owner,
        "retries": 3,
        "retry_delay": timedelta(seconds=SETTINGS.retry_delay),  # JOURNEYS_RETRY_DELAY, default 5 min
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": timedelta(hours=4),
    },
    params={
        "arrival_date": Param(None, type=["null", "string"], format="date",
                              description="process this arrival date instead of the day before the run"),
        "force_extract": Param(False, type="boolean",
                               description="query the CRM database again for a date already extracted"),
    },
    tags=["journeys", "spark", "great-expectations", "nightly"],
    doc_md=DOC,
)
def journeys_nightly():
    @task
    def choose_date(**context) -> str:
        day = arrival_date(context, SETTINGS.timezone)
        print(f"this run processes arrival date {day}")
        return day.isoformat()

    @task
    def extract(source: str, day: str, **context) -> dict:
        return extract_source(source, day, SETTINGS.config_path, bool(context["params"].get("force_extract")))

    @task(retries=1)
    def report(day: str) -> dict:
        from jobs.summary import render, summary
        from journeys_tasks import load_config

        s = summary(load_config(SETTINGS.config_path), [date.fromisoformat(day)])
        print(render(s))
        return {"date": day, "balanced": s["balanced"], "tables": s["tables"]}

    day = choose_date()
    extracts = [extract.override(task_id=f"extract_{source}")(source, day) for source in SOURCES]
    steps = [
        JourneysSparkSubmitOperator(
            task_id=step, step=step, day=day, config_path=SETTINGS.config_path,
            application=SETTINGS.application, conn_id=SETTINGS.spark_conn_id,
            outlets=list(TABLE_ASSETS.values()) if step == "publish" else [],
        )
        for step in ("normalize", "build", "validate", "publish")
    ]
    chain(day, extracts, steps[0])
    chain(*steps, report(day))


journeys_nightly()
