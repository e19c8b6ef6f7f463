"""Settings of the named funnels and the journey paths (pure pydantic: imported by jobs.config).
docs/analytics.md describes how a funnel is counted."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Event columns a funnel may hold constant (journey_events columns that identify something);
# `attributes.<key>` names any attribute as well.
HOLD_COLUMNS = ("source", "channel", "event_type", "touchpoint", "stage", "session_id", "device_type",
                "page_path", "element_id", "utm_source", "utm_medium", "utm_campaign")
_ATTRIBUTE = re.compile(r"^attributes\.(.+)$")
MAX_STEPS = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventPredicate(_Strict):
    """Matches an event when every condition given holds (conditions left out match anything)."""
    event_type: list[str] | None = Field(None, description="event type is one of these")
    source: list[str] | None = Field(None, description="source is one of these")
    channel: list[str] | None = Field(None, description="channel is one of these")
    touchpoint: list[str] | None = Field(None, description="touchpoint is one of these")
    page_path: str | None = Field(None, description="regular expression the whole page path must match")
    attributes: dict[str, str] | None = Field(None, description="attributes[key] equals value, for every key")

    @field_validator("event_type", "source", "channel", "touchpoint", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        # a single value is written without brackets in YAML
        return [v] if isinstance(v, str) else v

    @field_validator("event_type", "source", "channel", "touchpoint")
    @classmethod
    def _not_empty(cls, v):
        if v is not None and (not v or any(not x for x in v)):
            raise ValueError("must be a value or a non-empty list of non-empty values")
        return v

    @field_validator("page_path")
    @classmethod
    def _regex(cls, v):
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, v):
        if v is not None and (not v or any(not k for k in v)):
            raise ValueError("must map at least one non-empty key to a value")
        return v

    @model_validator(mode="after")
    def _some_condition(self):
        if all(getattr(self, f) is None for f in EventPredicate.model_fields):
            raise ValueError("an event predicate needs at least one of "
                             + ", ".join(EventPredicate.model_fields))
        return self


class FunnelStep(EventPredicate):
    name: str | None = Field(None, min_length=1, description="label of the step in funnel_results (default: step N)")


class FunnelExclusion(EventPredicate):
    between: tuple[int, int] | None = Field(
        None, description="[i, j]: applies from step i's event until step j is reached (1-based); "
                          "default: between every two consecutive steps")


class NamedFunnel(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$", description="funnel_results.funnel_name")
    description: str = Field("", description="what the funnel measures")
    steps: list[FunnelStep] = Field(min_length=1, max_length=MAX_STEPS, description="ordered steps (event predicates)")
    order: Literal["strict", "sequential", "any"] = Field(
        "sequential", description="strict: each step is the very next event; sequential: other events may come "
                                  "between; any: steps after the first in any order")
    window_days: int | None = Field(None, gt=0, description="conversion window from the first step-1 event, in days")
    window_hours: int | None = Field(None, gt=0, description="the same in hours (give exactly one of the two)")
    exclusions: list[FunnelExclusion] = Field([], description="events that take an entry out of the funnel")
    hold_constant: list[str] = Field(
        [], description="properties every step shares with step 1: an event column or attributes.<key>")

    @field_validator("hold_constant")
    @classmethod
    def _known_properties(cls, v):
        for prop in v:
            if prop not in HOLD_COLUMNS and not _ATTRIBUTE.match(prop):
                raise ValueError(f"unknown property {prop!r}: use one of {', '.join(HOLD_COLUMNS)} "
                                 f"or attributes.<key>")
        if len(set(v)) != len(v):
            raise ValueError("properties must be distinct")
        return v

    @model_validator(mode="after")
    def _window_and_between(self):
        if (self.window_days is None) == (self.window_hours is None):
            raise ValueError(f"funnel {self.name!r}: give exactly one of window_days or window_hours")
        n = len(self.steps)
        for k, exclusion in enumerate(self.exclusions, start=1):
            if exclusion.between is not None:
                i, j = exclusion.between
                if not 1 <= i < j <= n:
                    raise ValueError(f"funnel {self.name!r}, exclusion {k}: between must be [i, j] with "
                                     f"1 <= i < j <= {n} (the number of steps), got [{i}, {j}]")
        names = self.step_names
        if len(set(names)) != len(names):
            raise ValueError(f"funnel {self.name!r}: step names must be distinct")
        return self

    @property
    def window_micros(self) -> int:
        hours = self.window_hours if self.window_hours is not None else 24 * self.window_days
        return hours * 3_600 * 1_000_000

    @property
    def step_names(self) -> list[str]:
        return [s.name or f"step {i}" for i, s in enumerate(self.steps, start=1)]

    def exclusion_span(self, exclusion: FunnelExclusion) -> tuple[int, int]:
        return exclusion.between if exclusion.between is not None else (1, len(self.steps))


def check_unique_names(funnels: list[NamedFunnel]) -> None:
    """Funnel names are part of funnel_results' key."""
    names = [f.name for f in funnels]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"analytics.named_funnels: names must be distinct, repeated: {', '.join(dupes)}")


class PathsConfig(_Strict):
    max_path_length: int = Field(8, ge=1, le=50, description="steps kept per path; longer paths end in '…'")
    top_n: int = Field(20, ge=1, description="paths kept per day and path type; the rest are summed in '(other)'")
