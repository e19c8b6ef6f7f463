"""Raw-zone arrival folders written beside their final place, then swapped in whole.

An extract never writes into a live arrival folder: it fills a staging folder under
`<source root>/_extract_tmp/` (the underscore keeps it out of every arrival-date glob),
writes the manifest there, and only then replaces the day's folder. A rerun of the same
date therefore leaves either the old delivery or the new one, never a mix.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import uuid
from dataclasses import asdict, dataclass
from datetime import date

import fsspec

MANIFEST = "_manifest.json"
_CHUNK = 4 * 1024 * 1024


class ExtractError(Exception):
    """A delivery could not be pulled; the message names the source, date and place."""


@dataclass(frozen=True)
class FileEntry:
    name: str      # path below the arrival folder
    size: int
    sha256: str


def resolve_uri(uri: str, base_dir: str) -> str:
    """Relative paths are relative to the config file, like every path in the config."""
    if "://" in uri or uri.startswith("/"):
        return uri
    return os.path.normpath(os.path.join(base_dir or os.getcwd(), uri))


def arrival_folder(root: str, day: date) -> str:
    return f"{root.rstrip('/')}/arrival_date={day.isoformat()}"


def is_data_file(name: str) -> bool:
    """Hidden files and markers such as _SUCCESS or our manifest are not data (as in jobs.storage)."""
    return not posixpath.basename(name).startswith((".", "_"))


def copy_hashed(src_fs, src: str, dst_fs, dst: str) -> tuple[int, str]:
    """Stream one file across filesystems; returns (bytes, sha256) of what was written."""
    digest, size = hashlib.sha256(), 0
    dst_fs.makedirs(posixpath.dirname(dst), exist_ok=True)
    with src_fs.open(src, "rb") as fin, dst_fs.open(dst, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            fout.write(chunk)
    return size, digest.hexdigest()


def hash_file(fs, path: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with fs.open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def list_files(fs, folder: str, pattern: str = "**") -> list[str]:
    """Data files below folder matching pattern (relative names, sorted); [] when the folder is absent."""
    if not fs.exists(folder) or not fs.isdir(folder):
        return []
    if pattern == "**":
        found = fs.find(folder)
    else:
        found = [p for p in fs.glob(posixpath.join(folder, pattern)) if fs.isfile(p)]
    rel = [posixpath.relpath(p, folder.rstrip("/")) for p in found]
    return sorted(r for r in rel if all(is_data_file(part) for part in r.split("/")))


class StagedFolder:
    """A staging folder for one source's arrival date; `commit()` swaps it into place."""

    def __init__(self, raw_root: str, day: date):
        self.fs, root = fsspec.core.url_to_fs(raw_root)
        self.root = root.rstrip("/")
        self.final = arrival_folder(self.root, day)
        self.path = f"{self.root}/_extract_tmp/arrival_date={day.isoformat()}-{uuid.uuid4().hex[:12]}"
        self.fs.makedirs(self.path, exist_ok=True)

    def write_manifest(self, manifest: dict) -> None:
        write_json(self.fs, f"{self.path}/{MANIFEST}", manifest)

    def commit(self) -> None:
        trash = None
        if self.fs.exists(self.final):
            trash = f"{self.root}/_extract_trash/{posixpath.basename(self.path)}"
            self.fs.makedirs(posixpath.dirname(trash), exist_ok=True)
            self.fs.mv(self.final, trash, recursive=True)
        self.fs.mv(self.path, self.final, recursive=True)
        if trash:
            self.fs.rm(trash, recursive=True)
        self._tidy()

    def abort(self) -> None:
        if self.fs.exists(self.path):
            self.fs.rm(self.path, recursive=True)
        self._tidy()

    def _tidy(self) -> None:
        for name in ("_extract_tmp", "_extract_trash"):
            folder = f"{self.root}/{name}"
            if self.fs.exists(folder) and not self.fs.ls(folder):
                self.fs.rm(folder, recursive=True)


def write_json(fs, path: str, payload: dict) -> None:
    """Write beside, then move: a reader never sees half a JSON file."""
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    with fs.open(tmp, "w") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True, default=str)
    if fs.exists(path):
        fs.rm(path)
    fs.mv(tmp, path)


def read_json(fs, path: str) -> dict | None:
    if not fs.exists(path):
        return None
    with fs.open(path, "r") as fh:
        return json.load(fh)


def entries_dicts(entries: list[FileEntry]) -> list[dict]:
    return [asdict(e) for e in entries]
