"""What one extract did, as the manifest and the Airflow task log record it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone

from jobs.extract.zone import FileEntry


@dataclass
class ExtractResult:
    source: str
    arrival_date: date
    method: str                 # files | sql | in_place | kept
    origin: str                 # where it came from (no credentials)
    folder: str                 # the raw-zone arrival folder
    files: list[FileEntry] = field(default_factory=list)
    rows: int | None = None     # sql only
    note: str = ""
    sql: dict | None = None     # sql only: table, column, window
    extracted_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def manifest(self) -> dict:
        out = {
            "source": self.source, "arrival_date": self.arrival_date.isoformat(), "method": self.method,
            "origin": self.origin, "extracted_at": self.extracted_at, "file_count": len(self.files),
            "bytes": self.bytes, "files": [asdict(f) for f in self.files],
        }
        if self.note:
            out["note"] = self.note
        if self.sql is not None:
            out["sql"] = {**self.sql, "rows": self.rows}
        return out

    def summary(self) -> dict:
        """Small enough for an XCom: no per-file list."""
        out = {k: v for k, v in self.manifest().items() if k != "files"}
        out["folder"] = self.folder
        return out
