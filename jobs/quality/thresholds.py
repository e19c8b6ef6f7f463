"""Tolerances for raw-source validation (SPEC 3.2)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


def _as_utc(value: dt.datetime | dt.date, name: str) -> dt.datetime:
    """Return ``value`` as an aware UTC datetime; naive values are read as UTC."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min, tzinfo=dt.timezone.utc)
    raise TypeError(f"{name} must be a datetime or a date, not {type(value).__name__}")


@dataclass(frozen=True, kw_only=True)
class QualityThresholds:
    """How much badness a raw source may show before its validation fails.

    ``max_bad_fraction``: share of rows that may break a *critical* row-level check
    (those rows are quarantined by the normaliser); above it the check, and the run,
    fails. Every critical row-level expectation gets ``mostly = 1 - max_bad_fraction``.

    ``min_timestamp`` / ``max_timestamp``: the sane range for every timestamp column
    (naive datetimes and dates are read as UTC; values are normalised to aware UTC).

    ``max_warning_fraction``: the same tolerance for *warning* checks. The default 0.0
    records a warning as soon as one row breaks a warning check (warnings never stop
    the run, so they are reported eagerly).

    ``tolerated_bad_rows``: a critical row-level check broken by at most this many rows
    does not stop the run whatever the fraction (in a small source one bad row out of
    six is 17 %); it is reported as a warning instead. 0 disables the allowance.
    """

    max_bad_fraction: float = 0.05
    min_timestamp: dt.datetime
    max_timestamp: dt.datetime
    max_warning_fraction: float = field(default=0.0)
    tolerated_bad_rows: int = 5

    def __post_init__(self) -> None:
        for name in ("max_bad_fraction", "max_warning_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, not {type(value).__name__}")
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
            object.__setattr__(self, name, float(value))
        if isinstance(self.tolerated_bad_rows, bool) or not isinstance(self.tolerated_bad_rows, int):
            raise TypeError("tolerated_bad_rows must be an int")
        if self.tolerated_bad_rows < 0:
            raise ValueError(f"tolerated_bad_rows must be >= 0, got {self.tolerated_bad_rows}")
        lo = _as_utc(self.min_timestamp, "min_timestamp")
        hi = _as_utc(self.max_timestamp, "max_timestamp")
        if lo >= hi:
            raise ValueError(f"min_timestamp ({lo.isoformat()}) must be before max_timestamp ({hi.isoformat()})")
        object.__setattr__(self, "min_timestamp", lo)
        object.__setattr__(self, "max_timestamp", hi)

    @property
    def critical_mostly(self) -> float:
        """``mostly`` for critical row-level expectations."""
        return round(1.0 - self.max_bad_fraction, 10)

    @property
    def warning_mostly(self) -> float:
        """``mostly`` for warning row-level expectations."""
        return round(1.0 - self.max_warning_fraction, 10)

    def mostly_for(self, severity: str) -> float:
        return self.critical_mostly if severity == "critical" else self.warning_mostly

    @classmethod
    def for_run_date(
        cls,
        run_date: dt.date,
        *,
        max_bad_fraction: float = 0.05,
        min_event_date: dt.date = dt.date(2000, 1, 1),
        future_tolerance: dt.timedelta = dt.timedelta(days=1),
        max_warning_fraction: float = 0.0,
        tolerated_bad_rows: int = 5,
    ) -> "QualityThresholds":
        """Thresholds for one run: timestamps from ``min_event_date`` up to the end of
        ``run_date`` (UTC) plus ``future_tolerance`` (clock skew, time-zone slack)."""
        end_of_day = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time.min, tzinfo=dt.timezone.utc)
        return cls(
            max_bad_fraction=max_bad_fraction,
            min_timestamp=_as_utc(min_event_date, "min_event_date"),
            max_timestamp=end_of_day + future_tolerance,
            max_warning_fraction=max_warning_fraction,
            tolerated_bad_rows=tolerated_bad_rows,
        )

    def to_dict(self) -> dict:
        return {
            "max_bad_fraction": self.max_bad_fraction,
            "max_warning_fraction": self.max_warning_fraction,
            "tolerated_bad_rows": self.tolerated_bad_rows,
            "min_timestamp": self.min_timestamp.isoformat(),
            "max_timestamp": self.max_timestamp.isoformat(),
        }
