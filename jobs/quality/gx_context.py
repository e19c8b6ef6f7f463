"""Ephemeral Great Expectations contexts (no files, no network, no progress bars)."""

from __future__ import annotations

from pathlib import Path


def ephemeral_context(data_docs_dir: str | Path | None = None):
    """An in-memory GX context; with ``data_docs_dir`` it has one local Data Docs site.

    Progress bars (tqdm "Calculating Metrics") are switched off in the project config:
    GX's Validator asks ``context.progress_bars`` before each validation.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites: dict = {}
    if data_docs_dir is not None:
        sites = {
            "local_site": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(data_docs_dir).resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def quiet_gx_logging() -> None:
    """GX logs hundreds of INFO lines at import (docs decorators); keep its loggers at
    WARNING unless the application configured them explicitly."""
    import logging

    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:
        gx_logger.setLevel(logging.WARNING)


quiet_gx_logging()
