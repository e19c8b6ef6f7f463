"""The run summary (demo, Airflow report task) reads pipeline_runs: reconciliation per source
and the latest build's identity and journey figures, for the dates asked."""
from datetime import date, datetime, timezone

from jobs import steps, storage
from jobs.pipeline import SourceResult, _run_row
from jobs.summary import render, summary

D1, D2 = date(2026, 1, 5), date(2026, 1, 6)


def _build(day: date, customers: int, converted: int) -> dict:
    return {"run_date": day.isoformat(), "customers": customers, "ids": customers * 2, "shared_ids": 1,
            "cc_rounds": 3, "oversized_components": 0, "rekeyed_ids": 0, "journeys_written": converted + 4,
            "journeys_by_status": {"converted": converted, "open": 4},
            "components_by_size": {"1": customers - 2, "2-3": 2}, "events_in_window": 40, "journey_events": 40,
            "warnings": []}


def test_latest_build_figures_per_date_and_rendered(spark, base_config, tmp_path):
    config = base_config.with_overrides(warehouse=str(tmp_path / "wh"))
    rows = []
    for day, customers, converted in ((D1, 10, 1), (D2, 12, 3)):
        at = datetime(day.year, day.month, day.day, 3, tzinfo=timezone.utc)
        source = SourceResult("calls", rows_in=5, rows_out=4, rows_quarantined=1,
                              quarantine_by_reason={"INVALID_TYPE": 1})
        normalize_row = steps._typed_run_row({**_run_row(f"run-{day}", day, source, "succeeded", at, at, config),
                                              "started_at": at.isoformat(), "finished_at": at.isoformat(),
                                              "run_date": day.isoformat()})
        rows += [normalize_row, steps._build_row({"run_id": f"run-{day}"}, _build(day, customers, converted), config)]
    storage.append_runs(spark, config.warehouse, rows)

    first = summary(config, [D1])
    assert first["build"]["customers"] == 10 and first["build"]["journeys_by_status"] == {"converted": 1, "open": 4}
    both = summary(config)
    assert both["build"]["run_date"] == "2026-01-06" and both["build"]["customers_by_ids"] == {"1": 10, "2-3": 2}
    assert both["sources"]["calls"]["rows_in"] == 10 and both["balanced"]
    text = render(both)
    assert "identity after 2026-01-06: 12 customers from 24 ids (1 shared), 3 CC round(s); " \
           "customers by ids 1: 10, 2-3: 2" in text
    assert "journeys rewritten by that night: converted 3, open 4" in text


def test_no_build_yet_renders_without_identity_lines(spark, base_config, tmp_path):
    config = base_config.with_overrides(warehouse=str(tmp_path / "wh"))
    assert summary(config)["build"] is None
    assert "no succeeded runs" in render(summary(config))
