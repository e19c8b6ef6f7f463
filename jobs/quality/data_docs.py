"""Render the kept validation results as static HTML (GX Data Docs + an offline index).

Layout under ``<out_dir>/data_docs/``:

- ``index.html`` -- written here: plain HTML with inline CSS and no JavaScript, so it
  works offline and from a file share. One row per run x suite, linking to the pages
  below and to the result JSON.
- ``validations/<suite>/<run_name>/<run_time>/<batch>.html`` -- GX's own validation
  result pages, rendered by GX's SiteBuilder from an ephemeral context.
- ``expectations/<suite>.html`` -- GX's suite pages (latest suite per source).
- ``static/`` -- GX's static assets.
- ``.rendered.json`` -- what was rendered from which result (size, mtime): results
  unchanged since are neither read nor rendered again.

GX's own ``index.html`` is not built: it fills its tables with JavaScript loaded from
public CDNs (jQuery, bootstrap-table) and is empty offline. GX's result pages are
server-rendered HTML and stay readable offline (the CDN styling is then missing); a small
inline style is added to them so their pass/fail icons (Font Awesome, from a CDN) still
show as plain characters.
"""

from __future__ import annotations

import contextlib

import datetime as dt
import html
import json
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from .gx_context import ephemeral_context
from .validation import REPORT_FORMAT

log = logging.getLogger(__name__)

DATA_DOCS_DIRNAME = "data_docs"


# What the index and the rendering need of a result: read once, kept in the cache below, so a
# night does not parse every earlier night's full result (megabytes each) again.
_SUMMARY_KEYS = ("suite_name", "run_name", "run_time", "gx_batch_identifier", "success", "warnings",
                 "critical_failures", "row_count", "evaluated")
_CACHE_NAME = ".rendered.json"


def _result_files(out_dir: Path) -> list[Path]:
    return [p for p in sorted(out_dir.glob("*/*.json")) if p.parent.name != DATA_DOCS_DIRNAME]


def _load_report(path: Path) -> dict | None:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("skipping unreadable validation result %s: %s", path, exc)
        return None
    return payload if isinstance(payload, dict) and payload.get("format") == REPORT_FORMAT else None


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_mtime_ns, st.st_size]


def _read_cache(site: Path) -> dict:
    """Results rendered before: {json path: {stat, summary, page}} and the suite pages'
    sources. Anything unreadable is an empty cache: every result is then read again."""
    try:
        cache = json.loads((site / _CACHE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"results": {}, "suites": {}}
    if not isinstance(cache, dict) or not isinstance(cache.get("results"), dict) \
            or not isinstance(cache.get("suites"), dict):
        return {"results": {}, "suites": {}}
    return cache


def _url_to_path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _status(payload: dict) -> tuple[str, str]:
    if not payload.get("success"):
        return "failed", "FAILED"
    if payload.get("warnings"):
        return "warn", "passed with warnings"
    return "ok", "passed"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem} table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f3f3f3} .failed{background:#fde2e1} .warn{background:#fff4d6} .ok{background:#e5f6e8}
.status{font-weight:600;white-space:nowrap} ul{margin:.2rem 0;padding-left:1.1rem}
li{margin:.1rem 0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}
.muted{color:#666;font-size:.85rem} details summary{cursor:pointer} .nowrap{white-space:nowrap}
"""


# GX pages show pass/fail with Font Awesome icons loaded from a CDN: offline the status
# column would be empty. These rules draw the icons with plain characters instead.
_OFFLINE_MARK = '<style id="journeys-offline-icons">'
_OFFLINE_CSS = (
    _OFFLINE_MARK
    + 'i.fa-check-circle::before{content:"\\2714";color:#1a7f37;font-style:normal}'
    + 'i.fa-times::before{content:"\\2718";color:#c62828;font-style:normal}'
    + 'i.fa-comment::before{content:"\\270E";color:#0b6bcb;font-style:normal}'
    + "</style>"
)


def _patch_offline(page: Path) -> None:
    try:
        text = page.read_text(encoding="utf-8")
    except OSError:
        return
    if _OFFLINE_MARK in text or "</head>" not in text:
        return
    _write_atomic(page, text.replace("</head>", _OFFLINE_CSS + "</head>", 1))


def _rel(target: Path, site: Path) -> str:
    return Path(os.path.relpath(target, site)).as_posix()


def _index_html(rows: list[dict], site: Path, suites: dict[str, Path]) -> str:
    e = html.escape
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Raw data validation results</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Raw data validation results</h1>",
        f'<p class="muted">Great Expectations suites of the raw sources (SPEC 3.2). '
        f"{len(rows)} result(s); generated {e(now)}. A run fails when a <b>critical</b> "
        f"expectation fails; warnings are recorded only.</p>",
    ]
    if suites:
        links = ", ".join(
            f'<a href="{e(_rel(path, site))}">{e(name)}</a>' for name, path in sorted(suites.items())
        )
        out.append(f"<p>Suites: {links}</p>")
    out.append(
        "<table><thead><tr><th>Run</th><th>Suite</th><th>Status</th><th>Rows</th>"
        "<th>Expectations</th><th>Critical failures</th><th>Warnings</th><th>Details</th>"
        "</tr></thead><tbody>"
    )
    for row in rows:
        p = row["payload"]
        css, label = _status(p)

        def lines(items: list[str], open_: bool) -> str:
            if not items:
                return "0"
            body = "".join(f"<li>{e(x)}</li>" for x in items)
            return f"<details{' open' if open_ else ''}><summary>{len(items)}</summary><ul>{body}</ul></details>"

        links = []
        if row.get("page"):
            links.append(f'<a href="{e(_rel(row["page"], site))}">validation page</a>')
        links.append(f'<a href="{e(_rel(row["json"], site))}">JSON</a>')
        out.append(
            f'<tr class="{css}"><td class="nowrap">{e(str(p.get("run_name")))}</td>'
            f'<td>{e(str(p.get("suite_name")))}</td>'
            f'<td class="status">{e(label)}</td>'
            f'<td>{e(str(p.get("row_count")))}</td>'
            f'<td>{e(str(p.get("evaluated")))}</td>'
            f"<td>{lines(p.get('critical_failures') or [], True)}</td>"
            f"<td>{lines(p.get('warnings') or [], False)}</td>"
            f"<td class=\"nowrap\">{' | '.join(links)}</td></tr>"
        )
    out.append("</tbody></table></body></html>")
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove_stale_pages(section: Path, keep: set[Path]) -> None:
    if not section.is_dir():
        return
    for page in section.rglob("*.html"):
        if page.resolve() not in keep:
            page.unlink(missing_ok=True)
    for folder in sorted((p for p in section.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # a folder that still holds pages stays
            folder.rmdir()


def render_data_docs(out_dir: str | Path) -> Path:
    """(Re)render ``out_dir/data_docs/`` from every result JSON kept under ``out_dir``.

    GX pages are rendered only for results that are new or changed since the last
    render (a rerun of a run replaces its page); pages of results that are gone are
    removed. Results rendered before and unchanged since are not read again: their index
    rows come from ``data_docs/.rendered.json``. Returns the path of ``index.html``. Works
    offline.
    """
    out_dir = Path(out_dir)
    site = (out_dir / DATA_DOCS_DIRNAME).resolve()
    site.mkdir(parents=True, exist_ok=True)
    cache = _read_cache(site)
    context = None

    def gx_context():
        nonlocal context
        if context is None:
            context = ephemeral_context(data_docs_dir=site)
        return context

    to_build: list = []
    fresh: list[Path] = []  # pages rendered by this call
    rows: list[dict] = []
    results: dict[str, dict] = {}
    payloads: dict[Path, dict] = {}
    for json_path in _result_files(out_dir):
        name, stat = str(json_path.resolve()), _stat(json_path)
        hit = cache["results"].get(name)
        if hit and hit.get("stat") == stat and (hit.get("page") is None or Path(hit["page"]).exists()):
            # rendered before and unchanged since: neither read nor rendered again
            summary, page = hit["summary"], Path(hit["page"]) if hit.get("page") else None
        else:
            payload = _load_report(json_path)
            if payload is None:
                continue
            payloads[json_path] = payload
            summary = {k: payload.get(k) for k in _SUMMARY_KEYS} | {"has_suite": bool(payload.get("suite"))}
            page = _render_result_page(gx_context(), json_path, payload, to_build)
            fresh += [page] if page is not None else []
        results[name] = {"stat": stat, "summary": summary, "page": str(page) if page else None}
        rows.append({"payload": summary, "json": json_path.resolve(), "page": page})

    # each suite's page shows the suite of its latest run; rendered again only when that changes
    latest: dict[str, dict] = {}
    for row in rows:
        p = row["payload"]
        if p.get("has_suite") and str(p["run_time"]) >= str(latest.get(p["suite_name"], {}).get("run_time", "")):
            latest[p["suite_name"]] = {"run_time": str(p["run_time"]), "json": row["json"]}
    suite_pages: dict[str, Path] = {}
    suites_cache: dict[str, dict] = {}
    for suite_name, source in sorted(latest.items()):
        json_path, stat = source["json"], results[str(source["json"])]["stat"]
        known = cache["suites"].get(suite_name)
        if known and known.get("json") == str(json_path) and known.get("stat") == stat \
                and Path(known.get("page", "")).is_file():
            suite_pages[suite_name] = Path(known["page"])
            suites_cache[suite_name] = known
            continue
        payload = payloads.get(json_path) or _load_report(json_path)
        if payload is None:
            continue
        page = _add_suite_page(gx_context(), suite_name, payload["suite"], to_build)
        if page is not None:
            suite_pages[suite_name] = page
            fresh.append(page)
            suites_cache[suite_name] = {"json": str(json_path), "stat": stat, "page": str(page)}

    if to_build:
        context.build_data_docs(resource_identifiers=to_build, build_index=False)
        for page in fresh:
            _patch_offline(page)
    keep = {row["page"] for row in rows if row["page"] is not None}
    _remove_stale_pages(site / "validations", keep)
    _remove_stale_pages(site / "expectations", set(suite_pages.values()))
    suite_pages = {k: v for k, v in suite_pages.items() if v.exists()}
    for row in rows:
        if row["page"] is not None and not row["page"].exists():
            row["page"] = None

    rows.sort(key=lambda r: str(r["payload"].get("suite_name")))
    rows.sort(key=lambda r: str(r["payload"].get("run_name")), reverse=True)  # newest run first
    index = site / "index.html"
    _write_atomic(index, _index_html(rows, site, suite_pages))
    for name, entry in results.items():
        if entry["page"] and not Path(entry["page"]).exists():
            entry["page"] = None
    _write_atomic(site / _CACHE_NAME, json.dumps({"results": results, "suites": {
        k: v for k, v in suites_cache.items() if k in suite_pages}}, default=str))
    return index


def _render_result_page(context, json_path: Path, payload: dict, to_build: list) -> Path | None:
    """Where GX puts the result's page; the result is queued for rendering when the page is
    missing or older than the result. None when GX cannot read the result back."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    suite_name = payload["suite_name"]
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
        run_id=RunIdentifier(run_name=payload["run_name"], run_time=dt.datetime.fromisoformat(payload["run_time"])),
        batch_identifier=payload.get("gx_batch_identifier") or f"raw-{suite_name}",
    )
    urls = context.get_docs_sites_urls(resource_identifier=key, only_if_exists=False)
    page = _url_to_path(urls[0]["site_url"]).resolve() if urls and urls[0].get("site_url") else None
    if page is not None and (not page.exists() or page.stat().st_mtime < json_path.stat().st_mtime):
        store = context.validation_results_store
        try:
            store.set(key, store.deserialize(payload["gx_result"]))
            to_build.append(key)
        except Exception as exc:  # a result GX cannot read back: keep it in the index
            log.warning("cannot render %s with GX: %s", json_path, exc)
            page = None
    return page


def _add_suite_page(context, suite_name: str, suite_dict: dict, to_build: list) -> Path | None:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    try:
        context.suites.add(ExpectationSuite(**{k: v for k, v in suite_dict.items() if k != "id"}))
    except Exception as exc:
        log.warning("cannot render suite page for %s: %s", suite_name, exc)
        return None
    suite_key = ExpectationSuiteIdentifier(name=suite_name)
    to_build.append(suite_key)
    urls = context.get_docs_sites_urls(resource_identifier=suite_key, only_if_exists=False)
    return _url_to_path(urls[0]["site_url"]).resolve() if urls and urls[0].get("site_url") else None
