"""Pull one source's delivery for one date from its landing zone into the raw zone."""
from __future__ import annotations

import logging
from datetime import date

import fsspec

from jobs.config import Config
from jobs.extract.result import ExtractResult
from jobs.extract.zone import (MANIFEST, ExtractError, FileEntry, StagedFolder, copy_hashed, hash_file, list_files,
                               resolve_uri, write_json)

log = logging.getLogger("journeys.extract")


def landing_folder(config: Config, source: str, day: date) -> str | None:
    landing = getattr(config.extract.landing, source)
    if not landing.uri:
        return None
    sub = landing.folder.format(date=day.isoformat(), yyyymmdd=day.strftime("%Y%m%d"))
    return f"{resolve_uri(landing.uri, config.base_dir).rstrip('/')}/{sub.strip('/')}"


def extract_files(config: Config, source: str, day: date) -> ExtractResult:
    """Copy the day's landed files into `<sources.<source>.path>/arrival_date=D/` with a manifest.

    Rerunning a date replaces the raw folder with a fresh copy of the landing folder. When the
    landing zone no longer has the day (landing zones are usually purged after a while), the
    raw folder is kept as it is: the raw zone is the durable copy and a rerun must not empty it.
    """
    if source not in type(config.sources).model_fields:
        raise ExtractError(f"unknown source {source!r}; sources are {', '.join(type(config.sources).model_fields)}")
    raw_root = getattr(config.sources, source).path
    src_folder = landing_folder(config, source, day)
    if src_folder is None:
        return _manifest_in_place(raw_root, source, day, "in_place", raw_root,
                                  "no landing uri configured: the raw folder is the delivery")
    landing = getattr(config.extract.landing, source)
    src_fs, src_path = fsspec.core.url_to_fs(src_folder)
    names = list_files(src_fs, src_path, landing.pattern)
    if not names:
        if landing.required:
            raise ExtractError(f"{source}: no delivery for {day} in {src_folder} (pattern {landing.pattern!r}); "
                               f"extract.landing.{source}.required is true")
        raw_fs, raw_path = fsspec.core.url_to_fs(raw_root)
        if list_files(raw_fs, f"{raw_path.rstrip('/')}/arrival_date={day.isoformat()}"):
            return _manifest_in_place(raw_root, source, day, "kept", src_folder,
                                      "nothing in the landing zone for this date: kept the raw folder as it was")
        log.warning("%s: no delivery for %s in %s; recording an empty delivery", source, day, src_folder)

    staged = StagedFolder(raw_root, day)
    try:
        entries = []
        for name in names:
            size, digest = copy_hashed(src_fs, f"{src_path.rstrip('/')}/{name}", staged.fs, f"{staged.path}/{name}")
            expected = src_fs.info(f"{src_path.rstrip('/')}/{name}")["size"]
            if expected is not None and size != expected:
                raise ExtractError(f"{source}: {name} changed while it was copied ({expected} bytes listed, "
                                   f"{size} read); rerun the extract")
            entries.append(FileEntry(name, size, digest))
        result = ExtractResult(source, day, "files", src_folder, staged.final, entries,
                               note="" if entries else "no delivery in the landing zone for this date")
        staged.write_manifest(result.manifest())
        staged.commit()
    except BaseException:
        staged.abort()
        raise
    log.info("%s %s: %d files, %d bytes from %s", source, day, len(entries), result.bytes, src_folder)
    return result


def _manifest_in_place(raw_root: str, source: str, day: date, method: str, origin: str, note: str) -> ExtractResult:
    """Describe (and hash) what the raw folder already holds, without moving anything."""
    fs, root = fsspec.core.url_to_fs(raw_root)
    folder = f"{root.rstrip('/')}/arrival_date={day.isoformat()}"
    names = list_files(fs, folder)
    entries = [FileEntry(n, *hash_file(fs, f"{folder}/{n}")) for n in names]
    result = ExtractResult(source, day, method, origin, folder, entries, note=note)
    if names:  # an absent folder stays absent: the normalize step reports the empty source
        write_json(fs, f"{folder}/{MANIFEST}", result.manifest())
    return result
