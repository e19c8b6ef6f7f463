"""Deterministic synthetic clickstream / CRM / call-log data with ground truth.

    from jobs.generator import generate
    summary = generate("data/raw", customers=300, days=5, seed=7)

See docs/generator.md for the simulated behaviour, the file layout and the truth files.
"""
from jobs.generator.core import generate

__all__ = ["generate"]
