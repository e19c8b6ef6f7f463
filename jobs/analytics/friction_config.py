"""Settings of the friction signals, friction points and touchpoint classes (pure pydantic:
imported by jobs.config). Every field has a default, so `analytics.friction` may be left out
of the YAML; docs/friction.md describes each signal."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Signal(_Strict):
    enabled: bool = Field(True, description="false: the signal is not detected")


class ErrorEventSignal(_Signal):
    """Error events; the event types come from journeys.error_event_types."""


class RageClickSignal(_Signal):
    event_types: list[str] = Field(["click"], min_length=1, description="event types that count as clicks")
    min_clicks: int = Field(3, ge=2, description="clicks on the same element in a row that make a rage click")
    max_gap_seconds: float = Field(1.0, gt=0, description="each click comes strictly less than this after the previous")


class LoopSignal(_Signal):
    min_visits: int = Field(3, ge=2, description="visits of the same step in one session that make a loop")
    visit_event_types: list[str] = Field(
        ["page_view"], min_length=1,
        description="event types that are a visit of a page (events without page_path: every event is a visit)")
    detect_back_and_forth: bool = Field(True, description="also a loop: A -> B -> A on consecutive visits")


class StallSignal(_Signal):
    percentile: float = Field(0.95, gt=0, lt=1, description="a gap above this percentile of the touchpoint's gaps")
    min_gap_seconds: float = Field(120.0, ge=0, description="floor: shorter gaps are never a stall")
    min_samples: int = Field(20, ge=1, description="with fewer gaps at the touchpoint, the floor alone applies")


class DeadEndSignal(_Signal):
    """The session's last event is an error event."""


class EscalationSignal(_Signal):
    digital_channels: list[str] = Field(["web", "app"], min_length=1, description="channels of a digital session")
    escalation_hours: float = Field(24.0, gt=0, description="a call at most this long after the session's end")


class RepeatContactSignal(_Signal):
    repeat_contact_days: float = Field(7.0, gt=0, description="another call at most this long after a call")


class LongQueueWaitSignal(_Signal):
    long_wait_seconds: float = Field(600.0, ge=0, description="attributes.wait_seconds above this")


class AbandonedCallSignal(_Signal):
    dispositions: list[str] = Field(["abandoned"], min_length=1,
                                    description="attributes.disposition values (case-insensitive) of an abandoned call")


class MultipleTransfersSignal(_Signal):
    min_transfers: int = Field(2, ge=1, description="attributes.transfers at or above this")


class ComplaintSignal(_Signal):
    event_types: list[str] = Field(["complaint_opened"], min_length=1,
                                   description="event types of a complaint (CRM activity_type complaint, opened)")


class LowSurveyScoreSignal(_Signal):
    nps_max: int = Field(6, ge=0, le=10, description="likelihood to recommend at or below this (0-10)")
    ces_max: int = Field(3, ge=1, le=7, description="customer effort score at or below this (1-7, higher = easier)")


class SignalsConfig(_Strict):
    error_event: ErrorEventSignal = ErrorEventSignal()
    rage_click: RageClickSignal = RageClickSignal()
    loop: LoopSignal = LoopSignal()
    stall: StallSignal = StallSignal()
    dead_end: DeadEndSignal = DeadEndSignal()
    escalation_to_call: EscalationSignal = EscalationSignal()
    repeat_contact: RepeatContactSignal = RepeatContactSignal()
    long_queue_wait: LongQueueWaitSignal = LongQueueWaitSignal()
    abandoned_call: AbandonedCallSignal = AbandonedCallSignal()
    multiple_transfers: MultipleTransfersSignal = MultipleTransfersSignal()
    complaint: ComplaintSignal = ComplaintSignal()
    low_survey_score: LowSurveyScoreSignal = LowSurveyScoreSignal()


class SurveyScales(_Strict):
    """How the survey scores are read (SPEC 1); the scales themselves are 0-10, 1-7 and 1-5."""
    nps_promoter_min: int = Field(9, ge=0, le=10, description="NPS promoters answer this or more")
    nps_detractor_max: int = Field(6, ge=0, le=10, description="NPS detractors answer this or less")
    csat_satisfied_min: int = Field(4, ge=1, le=5, description="CSAT answers at or above this are satisfied")

    @model_validator(mode="after")
    def _ordered(self):
        if self.nps_detractor_max >= self.nps_promoter_min:
            raise ValueError("nps_detractor_max must be below nps_promoter_min")
        return self


class TouchpointClasses(_Strict):
    """Key-touchpoint classes (SPEC 1), decided per day over the touchpoint rows of that day."""
    first_touch_min_share: float = Field(
        0.05, gt=0, le=1, description="first touch: at least this share of the day's journeys start here")
    end_touch_min_share: float = Field(
        0.05, gt=0, le=1, description="end touch: at least this share of the day's ended journeys end here")
    high_frequency_top_share: float = Field(
        0.1, gt=0, le=1, description="high-frequency: among the top share of the day's rows by events")
    high_perception_min_responses: int = Field(
        1, ge=1, description="high-perception: at least this many survey answers (or any complaint)")


class FrictionConfig(_Strict):
    call_event_types: list[str] = Field(
        ["call"], min_length=1,
        description="event types of customer calls (escalation, repeat contact, wait, abandonment, transfers)")
    inherit_stage: bool = Field(
        True, description="events without a stage (calls, CRM) take the stage of the journey's latest earlier "
                          "event that has one")
    signals: SignalsConfig = SignalsConfig()
    survey: SurveyScales = SurveyScales()
    touchpoint_classes: TouchpointClasses = TouchpointClasses()
    confidence: float = Field(0.95, gt=0, lt=1, description="confidence of the interval on the conversion difference")
