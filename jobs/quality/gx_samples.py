"""No unexpected-value samples when none are asked for.

Under BASIC, GX 1.x still resolves `<map metric>.unexpected_values` for every row-level
expectation, even with `partial_unexpected_count` 0: one Spark `limit(0).collect()` each.
Spark runs no job for it but still analyses and plans the query: 235 of the 436 queries a
night's output suites sent, and a quarter of their time (a tiny night's suites: 15.1 s with
the samples, 11.4 s without). This wraps GX's Spark providers of those metrics so that a
request for zero samples answers an empty list at once; any other request goes to GX.
"""
from __future__ import annotations

import functools
import logging
import threading

log = logging.getLogger(__name__)
_lock = threading.Lock()  # output suites are validated from several threads

# (module under great_expectations.expectations.metrics.map_metric_provider, provider): the
# unexpected-values providers of column, column-pair and multicolumn map metrics on Spark
_PROVIDERS = (
    ("column_map_condition_auxilliary_methods", "_spark_column_map_condition_values"),
    ("column_pair_map_condition_auxilliary_methods", "_spark_column_pair_map_condition_values"),
    ("multicolumn_map_condition_auxilliary_methods", "_spark_multicolumn_map_condition_values"),
)


def _wants_no_samples(result_format) -> bool:
    if not isinstance(result_format, dict):
        return False
    return result_format.get("result_format") in ("BASIC", "SUMMARY") and result_format.get("partial_unexpected_count") == 0


def _skipping_empty_requests(provider):
    @functools.wraps(provider)
    def wrapper(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, **kwargs):
        if _wants_no_samples(metric_value_kwargs.get("result_format")):
            return []
        return provider(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, **kwargs)

    wrapper.skips_empty_sample_requests = True
    return wrapper


def skip_empty_sample_queries() -> int:
    """Wrap every registered Spark provider of an unexpected-values metric (idempotent).
    Returns how many registry entries now skip empty requests; 0 means this GX version
    changed its internals, and validation simply runs GX's own (slower) providers."""
    import importlib

    from great_expectations.expectations import registry

    originals = set()
    for module, name in _PROVIDERS:
        try:
            mod = importlib.import_module(f"great_expectations.expectations.metrics.map_metric_provider.{module}")
            originals.add(getattr(mod, name))
        except (ImportError, AttributeError):
            log.warning("great_expectations has no %s.%s: unexpected-value samples are queried", module, name)
    wrapped = 0
    with _lock:
        for definition in registry._registered_metrics.values():
            providers = definition.get("providers", {})
            for engine, (metric_class, provider) in list(providers.items()):
                if getattr(provider, "skips_empty_sample_requests", False):
                    wrapped += 1
                elif provider in originals:
                    providers[engine] = (metric_class, _skipping_empty_requests(provider))
                    wrapped += 1
    return wrapped
