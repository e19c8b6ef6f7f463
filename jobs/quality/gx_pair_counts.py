"""Column-pair counts in the suite's one aggregate query, not two Spark jobs per expectation.

GX 1.x computes a column map metric's unexpected count as a `sum(when(...))` column and
bundles all of a table's into one `agg(...)` query. For a column-pair map metric (43 of the
output suites' expectations, such as `ended_at >= started_at`) it runs two queries of their
own instead: `filter(unexpected).count()` and, for the share of rows it checked,
`filter(not ignored).count()`. On a night's small tables those 90-odd jobs were two thirds of
the output suites' Spark jobs.

This registers both counts for Spark as aggregates (`sum(when(...))` over the same rows) and
adds the dependency that tells GX to bundle them. The rows are those GX would count: the
pair's `ignore_row_if` is applied inside the sum, and `row_condition` stays part of the
compute domain, whose rows the bundled query reads. Window conditions (none of GX's
column-pair metrics on Spark) are left to GX, since a window cannot sit inside an aggregate.
"""
from __future__ import annotations

import functools
import logging
import threading

log = logging.getLogger(__name__)
_lock = threading.Lock()  # output suites are validated from several threads
_ENGINE = "SparkDFExecutionEngine"
_UNEXPECTED, _FILTERED = ".unexpected_count", ".filtered_row_count"
_AGGREGATE = ".aggregate_fn"


def _kept(accessor: dict, compute: dict):
    """The rows a column-pair metric checks: GX's `ignore_row_if` (get_domain_records)."""
    from pyspark.sql import functions as F

    a, b = F.col(accessor["column_A"]), F.col(accessor["column_B"])
    ignore = compute.get("ignore_row_if", "neither")
    if ignore == "both_values_are_missing":
        return ~(a.isNull() & b.isNull())
    if ignore == "either_value_is_missing":
        return a.isNotNull() & b.isNotNull()
    if ignore == "neither":
        return F.lit(True)
    raise ValueError(f'Unrecognized value of ignore_row_if ("{ignore}").')


def _unexpected_count_aggregate(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, **kwargs):
    unexpected, compute, accessor = metrics["unexpected_condition"]
    return _count(_kept(accessor, compute) & unexpected), compute, accessor


def _filtered_row_count_aggregate(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics,
                                  **kwargs):
    _, compute, accessor = metrics["unexpected_condition"]
    return _count(_kept(accessor, compute)), compute, accessor


def _count(condition):
    from pyspark.sql import functions as F

    # a sum over no rows is null; GX's own count queries answer 0
    return F.coalesce(F.sum(F.when(condition, 1).otherwise(0)), F.lit(0))


def _with_bundled_counts(original):
    """ColumnPairMapMetricProvider's dependencies, plus the aggregate a bundled count is read
    from (GX adds it itself only for unexpected counts) and the condition that aggregate needs."""

    @functools.wraps(original)
    def dependencies(cls, metric, configuration=None, execution_engine=None, runtime_configuration=None):
        from great_expectations.validator.metric_configuration import MetricConfiguration

        found = original.__func__(cls, metric=metric, configuration=configuration, execution_engine=execution_engine,
                                  runtime_configuration=runtime_configuration)
        name = metric.metric_name
        value_kwargs = {k: v for k, v in (metric.metric_value_kwargs or {}).items() if k != "result_format"}
        if name.endswith(_FILTERED) and _bundled(f"{name}{_AGGREGATE}", execution_engine):
            found.pop("unexpected_condition", None)
            found["metric_partial_fn"] = MetricConfiguration(f"{name}{_AGGREGATE}", metric.metric_domain_kwargs,
                                                             value_kwargs)
        elif name.endswith(f"{_FILTERED}{_AGGREGATE}"):
            found["unexpected_condition"] = MetricConfiguration(f"{name[:-len(_FILTERED + _AGGREGATE)]}.condition",
                                                                metric.metric_domain_kwargs, value_kwargs)
        return found

    dependencies.bundles_pair_counts = True
    return classmethod(dependencies)


def _bundled(name: str, execution_engine) -> bool:
    from great_expectations.expectations import registry

    definition = registry._registered_metrics.get(name)
    return (execution_engine is not None and definition is not None
            and getattr(definition["providers"].get(type(execution_engine).__name__, (None, None))[1],
                        "bundles_pair_counts", False))


def bundle_column_pair_counts() -> int:
    """Register the bundled counts of every column-pair map metric GX has for Spark
    (idempotent). Returns how many metrics now bundle them; 0 means this GX version changed
    its internals, and validation runs GX's own (slower) count queries."""
    try:
        from great_expectations.core.metric_function_types import MetricPartialFunctionTypes
        from great_expectations.expectations import registry
        from great_expectations.expectations.metrics.map_metric_provider import (
            column_pair_map_condition_auxilliary_methods as pair_methods,
        )
        from great_expectations.expectations.metrics.map_metric_provider import map_condition_auxilliary_methods
        from great_expectations.expectations.metrics.map_metric_provider.column_pair_map_metric_provider import (
            ColumnPairMapMetricProvider,
        )
        gx_counts = {_UNEXPECTED: map_condition_auxilliary_methods._spark_map_condition_unexpected_count_value,
                     _FILTERED: pair_methods._spark_column_pair_map_condition_filtered_row_count}
    except (ImportError, AttributeError) as exc:
        log.warning("great_expectations internals changed (%s): column-pair counts run as queries of their own", exc)
        return 0
    ours = {_UNEXPECTED: _unexpected_count_aggregate, _FILTERED: _filtered_row_count_aggregate}
    for fn in ours.values():
        fn.metric_fn_type = MetricPartialFunctionTypes.AGGREGATE_FN
        fn.bundles_pair_counts = True
    bundled = 0
    with _lock:
        current = ColumnPairMapMetricProvider.__dict__["_get_evaluation_dependencies"]
        if not getattr(current.__func__, "bundles_pair_counts", False):
            ColumnPairMapMetricProvider._get_evaluation_dependencies = _with_bundled_counts(current)
        for name, definition in list(registry._registered_metrics.items()):
            suffix = next((s for s in ours if name.endswith(s)), None)
            if suffix is None or _ENGINE not in definition["providers"]:
                continue
            metric_class, provider = definition["providers"][_ENGINE]
            if not (isinstance(metric_class, type) and issubclass(metric_class, ColumnPairMapMetricProvider)):
                continue
            condition = registry._registered_metrics.get(f"{name[:-len(suffix)]}.condition", {})
            condition_fn = condition.get("providers", {}).get(_ENGINE, (None, None))[1]
            if getattr(condition_fn, "metric_fn_type", None) != MetricPartialFunctionTypes.MAP_CONDITION_FN:
                continue  # a window condition cannot be summed
            if provider is gx_counts[suffix]:
                registry._registered_metrics[f"{name}{_AGGREGATE}"] = {
                    "metric_domain_keys": definition["metric_domain_keys"],
                    "metric_value_keys": condition.get("metric_value_keys", ()),
                    "default_kwarg_values": definition.get("default_kwarg_values", {}),
                    "providers": {_ENGINE: (metric_class, ours[suffix])}}
                definition["providers"][_ENGINE] = (metric_class, None)
            if definition["providers"][_ENGINE][1] is None and _registered_ours(name):
                bundled += 1
    return bundled


def _registered_ours(name: str) -> bool:
    from great_expectations.expectations import registry

    aggregate = registry._registered_metrics.get(f"{name}{_AGGREGATE}", {})
    return getattr(aggregate.get("providers", {}).get(_ENGINE, (None, None))[1], "bundles_pair_counts", False)
