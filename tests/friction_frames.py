"""Tiny hand-built journeys / journey_events frames for the friction and touchpoint tests."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from jobs.contracts import table_contract

STAGES = ["awareness", "consideration", "purchase_intent", "purchase", "use_loyalty"]
ERRORS = ["form_error", "payment_failed", "error_page"]
T0 = datetime(2026, 1, 5, 10, 0, 0)
DAY = date(2026, 1, 5)
SOURCE = {"web": "clickstream", "app": "clickstream", "phone": "calls", "crm": "crm"}


def ev(journey: str, step: int, seconds: float, event_type: str = "page_view", page_path: str | None = "/",
       channel: str = "web", session: str = "s1", stage: str | None = "awareness", element_id: str | None = None,
       touchpoint: str | None = None, nps: int | None = None, ces: int | None = None, csat: int | None = None,
       attributes: dict | None = None, customer: str | None = None) -> dict:
    """One journey_events row; `seconds` after T0."""
    at = T0 + timedelta(seconds=seconds)
    if touchpoint is None:
        touchpoint = f"{channel}:{page_path}"
    return {
        "event_id": f"{journey}-{step}", "customer_key": customer or f"c-{journey}", "journey_id": journey,
        "session_id": f"{journey}-{session}", "step_number": step, "stage": stage,
        "stage_order": STAGES.index(stage) + 1 if stage else None,
        "is_conversion": event_type == "purchase", "is_error": event_type in ERRORS,
        "source": SOURCE[channel], "channel": channel, "event_type": event_type, "touchpoint": touchpoint,
        "event_at": at, "device_type": None, "page_path": page_path, "element_id": element_id,
        "utm_source": None, "utm_medium": None, "utm_campaign": None, "amount": None,
        "nps_score": nps, "ces_score": ces, "csat_score": csat, "attributes": attributes,
        "event_date": at.date(),
    }


def call(journey: str, step: int, seconds: float, queue: str = "general", session: str | None = None,
         **attributes) -> dict:
    """An inbound call; attributes as the call mapping writes them (text)."""
    return ev(journey, step, seconds, event_type="call", page_path=None, channel="phone",
              session=session or f"call{step}", stage=None, touchpoint=f"call:{queue}",
              attributes={k: str(v) for k, v in attributes.items()})


def events_frame(spark, rows: list[dict]):
    return spark.createDataFrame(rows, table_contract("journey_events").spark_schema())


def journeys_frame(spark, rows: list[dict], status: dict[str, str] | None = None,
                   start_date: dict[str, date] | None = None, segment: dict[str, str] | None = None,
                   extra: dict[str, list[str]] | None = None):
    """One journeys row per journey of `rows` (status default dropped); `extra` lists journeys
    without events: journey_id -> stages reached."""
    status, start_date, segment = status or {}, start_date or {}, segment or {}
    by_journey: dict[str, list[dict]] = {}
    for r in rows:
        by_journey.setdefault(r["journey_id"], []).append(r)
    out = []
    for jid, evs in sorted(by_journey.items()):
        evs = sorted(evs, key=lambda r: r["step_number"])
        stages = [s for s in STAGES if any(e["stage"] == s for e in evs)]
        out.append(_journey(jid, evs[0]["customer_key"], status.get(jid, "dropped"), stages,
                            start_date.get(jid, DAY), segment.get(jid), evs[0]["event_at"], evs[-1]["event_at"],
                            len(evs)))
    for jid, stages in (extra or {}).items():
        out.append(_journey(jid, f"c-{jid}", status.get(jid, "dropped"), stages, start_date.get(jid, DAY),
                            segment.get(jid), T0, T0, 1))
    return spark.createDataFrame(out, table_contract("journeys").spark_schema())


def _journey(jid, customer, status, stages, start, segment, first_at, last_at, n):
    return {
        "journey_id": jid, "customer_key": customer, "status": status, "started_at": first_at, "ended_at": last_at,
        "converted_at": last_at if status == "converted" else None,
        "duration_seconds": (last_at - first_at).total_seconds(), "n_events": n, "n_sessions": 1,
        "channels": ["web"], "first_touch_channel": "web", "first_touch_touchpoint": "web:/",
        "first_touch_device": "desktop", "first_touch_utm_source": None, "first_touch_utm_campaign": None,
        "last_touch_channel": "web", "last_touch_touchpoint": "web:/", "stages_reached": stages,
        "stages_reached_closed": stages, "furthest_stage": stages[-1] if stages else None,
        "furthest_stage_order": STAGES.index(stages[-1]) + 1 if stages else None,
        "dropoff_stage": stages[-1] if status == "dropped" and stages else None,
        "stage_reached_at": {s: first_at for s in stages}, "closed_stage_reached_at": {s: first_at for s in stages},
        "n_error_events": 0, "first_event_id": f"{jid}-1", "segment": segment, "region": None,
        "journey_start_date": start,
    }
