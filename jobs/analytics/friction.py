"""Friction analytics (issue [C]): occurrences of friction signals per journey, and their
impact as ranked friction points. The work lives in friction_signals.py (detection) and
friction_impact.py (impact); touchpoints.py builds the touchpoints table. See docs/friction.md."""
from jobs.analytics.friction_impact import friction_points
from jobs.analytics.friction_signals import NO_STAGE, SIGNALS, attributed_events, friction_occurrences

__all__ = ["NO_STAGE", "SIGNALS", "attributed_events", "friction_occurrences", "friction_points"]
