"""Raw-source validation with Great Expectations (SPEC 3.2).

    thresholds = QualityThresholds.for_run_date(run_date, max_bad_fraction=0.05)
    contract = load_contract("call_logs")
    report = validate(typed_df, contract, load_semantic("call_logs"), thresholds,
                      run_name="2024-05-01", out_dir=Path("data/quality"))
    ...                                   # one report per source
    render_data_docs(Path("data/quality"))
    raise_for_failures(reports)           # ValidationFailed lists critical failures

See docs/validation.md.
"""

from .data_docs import render_data_docs
from .suites import (
    SuiteConfigError,
    build_suite,
    load_contract,
    load_semantic,
    pii_columns,
    suite_name_for,
    validated_columns,
)
from .thresholds import QualityThresholds
from .validation import (
    ValidationFailed,
    ValidationReport,
    raise_for_failures,
    safe_run_name,
    validate,
)

__all__ = [
    "QualityThresholds",
    "SuiteConfigError",
    "ValidationFailed",
    "ValidationReport",
    "build_suite",
    "load_contract",
    "load_semantic",
    "pii_columns",
    "raise_for_failures",
    "render_data_docs",
    "safe_run_name",
    "suite_name_for",
    "validate",
    "validated_columns",
]
