"""Normalize step: raw rows -> canonical events, quarantine and counted duplicates."""
