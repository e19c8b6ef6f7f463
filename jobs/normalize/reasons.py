"""Catalog of quarantine reason codes.

The order of REASONS is the precedence when a row has several problems: the
first failing check names the row's reason. docs/quarantine.md is generated from it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    meaning: str
    fix: str


REASONS: tuple[Reason, ...] = (
    Reason("UNREADABLE_FILE", "The file cannot be decompressed or read to the end (for example a truncated gzip).",
           "Re-deliver the file; the run keeps one quarantine row for the whole file."),
    Reason("INVALID_ENCODING", "The line is not valid UTF-8 (wrong encoding, such as Latin-1 or UTF-16).",
           "Export the source as UTF-8."),
    Reason("NUL_BYTE", "The line contains a NUL byte.", "Fix the writer; NUL never occurs in valid text records."),
    Reason("RECORD_TOO_LARGE", "The line is longer than quality.max_record_bytes.",
           "Check the writer for runaway fields, or raise the limit."),
    Reason("MALFORMED_JSON", "The line is not a JSON object (truncated, not JSON, or an array/scalar).",
           "Fix the collector; each line must hold one JSON object."),
    Reason("MALFORMED_CSV", "The CSV row has an unbalanced quote.", "Quote fields as RFC 4180 says."),
    Reason("WRONG_COLUMN_COUNT", "The CSV row has more or fewer fields than the file's header.",
           "Check delimiters and quoting in the export."),
    Reason("MISSING_COLUMN", "The file's header lacks a required contract column.",
           "Add the column or map it with sources.<source>.column_mapping."),
    Reason("MISSING_REQUIRED_FIELD", "A required field is absent or empty.", "Send the field."),
    Reason("INVALID_TYPE", "A field has the wrong type (text where a number belongs, an object or array where a scalar belongs).",
           "Send the documented type."),
    Reason("INVALID_TIMESTAMP", "A timestamp cannot be parsed.",
           "Use ISO-8601 (with an offset, or naive in the source's time zone) or epoch seconds/milliseconds."),
    Reason("TIMESTAMP_OUT_OF_RANGE", "A timestamp is before quality.min_event_date or in the future of its arrival.",
           "Check the device or system clock."),
    Reason("INVALID_VALUE", "A value breaks the contract: not an allowed value, outside its range, a pattern mismatch, or an impossible order of times.",
           "Fix the value at the source."),
    Reason("LATE_BEYOND_WINDOW", "The event arrived more than windows.max_lateness_days after its event date.",
           "Replay it with a rebuild of the affected dates (docs/operations.md)."),
)

CODES = tuple(r.code for r in REASONS)
BY_CODE = {r.code: r for r in REASONS}
