"""No raw PII leaves the raw zone (SPEC 3.3, issue G): a scan of every output table, every
log line the pipeline writes and the validation results and rendered Data Docs finds no raw
email, phone number or full name, and every hash is keyed.

What is searched for:
- the actual PII of the generated data, in every written form: each email, phone number and
  full name of the generator's ground truth (`ground_truth/persons.csv`, `identities.csv`)
  and of the raw files themselves (CRM customers, call logs). Emails match case-insensitively;
  a phone matches in any of its spellings (E.164, `(312) 555-0142`, `001 312 555 0142`, bare
  digits, ...) because every run of digit groups is compared with the known numbers;
- anything that looks like an email or a phone number (generic patterns), known or not;
- unkeyed digests (sha256, sha1, md5) of every normalised email, phone and name: a hash
  without a key can be reversed by hashing a list of candidates;
- the HMAC key itself (value, and the hex of its inner and outer pads).

`quarantine` is the one place raw PII may be: it keeps the raw line of a rejected row and is
documented as restricted (schemas/tables/quarantine.yaml `restricted: true`,
docs/data_dictionary.md). The scan skips exactly the restricted tables and checks that this
is documented; everything else must be clean. Each scan is shown to fail on planted PII.
The Airflow side (task logs of a real DAG run) is at the end of tests/test_airflow_e2e.py; the
logs a run on a Spark cluster leaves (driver, executors, daemons) and its warehouse are scanned in
tests/test_cluster.py.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import html
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import PIPELINE_KEY  # the key pipeline_warehouse hashes with

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("clickstream", "crm_customers", "crm_activities", "calls")

# ------------------------------------------------------------------------------ scanner

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# a run of digit groups that could spell a phone number (not inside a word, a hex hash or a uuid)
DIGIT_RUN_RE = re.compile(r"(?<![0-9A-Za-z])\+?\(?\d+(?:(?:[ .\-]|\) ?)\d+)*(?![0-9A-Za-z])")
# generic phone shapes: NANP written with separators, or E.164
NANP_RE = re.compile(r"(?<![0-9A-Za-z+])(?:\+?1[ .\-]?|001 )?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?![0-9A-Za-z])")
E164_RE = re.compile(r"(?<![0-9A-Za-z+])\+[1-9]\d{9,14}(?![0-9A-Za-z])")
HEX_RE = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32,64}(?![0-9a-fA-F])")
WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

# files of the rendered Data Docs that are not text (GX's fonts and images) and Hadoop checksums
BINARY_SUFFIXES = {".otf", ".ttf", ".woff", ".woff2", ".ico", ".gif", ".png", ".jpg", ".crc"}


def national(digits: str, country_code: str = "1", length: int = 10) -> str | None:
    """The national number a string of digits spells, if it is one (with 1, 001 or 00 1 before it)."""
    for prefix in ("", country_code, "00" + country_code, "011" + country_code):
        if digits.startswith(prefix) and len(digits) == len(prefix) + length:
            return digits[len(prefix):]
    return None


def phone_national(text: str) -> str | None:
    """National number of one written phone (`(312) 555-0142 ext. 7`, `+1 312 ...`), else None."""
    text = re.sub(r"(?i)\s*(ext\.?|extension|x|#)\s*[0-9]+$", "", text.strip())
    return national(re.sub(r"\D", "", text))


def digests(value: str) -> dict[str, str]:
    b = value.encode()
    return {hashlib.sha256(b).hexdigest(): "sha256", hashlib.sha1(b).hexdigest(): "sha1",
            hashlib.md5(b).hexdigest(): "md5"}


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str
    value: str

    def __str__(self):
        return f"{self.where}: {self.kind} {self.value!r}"


@dataclass
class Catalog:
    """The PII of one generated data set, and the secrets that must never be written."""
    emails: set[str] = field(default_factory=set)       # trimmed, lower-cased
    phones: set[str] = field(default_factory=set)       # national numbers, 10 digits
    names: set[tuple[str, str]] = field(default_factory=set)  # (first, last), lower-cased
    written: set[str] = field(default_factory=set)      # every raw spelling, as delivered
    secrets: dict[str, str] = field(default_factory=dict)  # literal -> what it is
    unkeyed: dict[str, str] = field(default_factory=dict)  # hex digest -> "sha256 of <value>"

    @classmethod
    def from_landing(cls, landing: Path, secrets: dict[str, str] | None = None) -> "Catalog":
        cat = cls(secrets=dict(secrets or {}))
        gt = landing / "ground_truth"
        with open(gt / "persons.csv", newline="") as fh:
            for r in csv.DictReader(fh):
                cat._email(r["email"])
                cat._phone(r["phone"])
                cat._phone(r["crm_phone"])
        with open(gt / "identities.csv", newline="") as fh:
            for r in csv.DictReader(fh):
                if r["id_type"] == "email":
                    cat._email(r["id_value"])
                    cat._email(r["id_normalized"])
                elif r["id_type"] == "phone":
                    cat._phone(r["id_value"])
                    cat._phone(r["id_normalized"])
        for path in sorted((landing / "crm_customers").glob("arrival_date=*/*.csv")):
            for r in _csv_rows(path):
                cat._email(r.get("email") or "")
                cat._phone(r.get("phone") or "")
                first, last = (r.get("first_name") or "").strip().lower(), (r.get("last_name") or "").strip().lower()
                if first and last:
                    cat.names.add((first, last))
        for path in sorted((landing / "calls").glob("arrival_date=*/*.csv")):
            for r in _csv_rows(path):
                cat._phone(r.get("caller_number") or "")
        for value in [*cat.emails, *(f"+1{p}" for p in cat.phones), *(f"{f} {l}" for f, l in cat.names)]:
            cat.unkeyed.update({h: f"{kind} of {value}" for h, kind in digests(value).items()})
        return cat

    def _email(self, raw: str):
        if raw.strip():
            self.written.add(raw)
            self.emails.add(raw.strip().lower())

    def _phone(self, raw: str):
        number = phone_national(raw) if raw.strip() else None
        if number:
            self.written.add(raw)
            self.phones.add(number)

    @property
    def size(self) -> dict[str, int]:
        return {"emails": len(self.emails), "phones": len(self.phones), "names": len(self.names),
                "written forms": len(self.written), "unkeyed digests": len(self.unkeyed),
                "secrets": len(self.secrets)}

    def scan(self, text: str, where: str) -> list[Finding]:
        """Every PII value, PII-looking value, unkeyed digest or secret in one text."""
        found = []
        for m in EMAIL_RE.finditer(text):
            kind = "email" if m.group().lower() in self.emails else "email-like"
            found.append(Finding(where, kind, m.group()))
        for m in DIGIT_RUN_RE.finditer(text):
            groups = re.findall(r"\d+", m.group())
            seen = False
            for i in range(len(groups)):  # any run of consecutive groups: "2026-01-05 3125550142"
                digits = ""
                for g in groups[i:]:
                    digits += g
                    if len(digits) > 14:
                        break
                    number = national(digits)
                    if number in self.phones:
                        found.append(Finding(where, "phone", m.group()))
                        seen = True
                        break
                if seen:
                    break
        for rx in (NANP_RE, E164_RE):
            for m in rx.finditer(text):
                if not any(f.value == m.group() or m.group() in f.value for f in found if f.kind == "phone"):
                    found.append(Finding(where, "phone-like", m.group()))
        if self.names:
            words = [w.lower() for w in WORD_RE.findall(text)]
            for a, b in zip(words, words[1:]):
                if (a, b) in self.names:
                    found.append(Finding(where, "full name", f"{a} {b}"))
        for m in HEX_RE.finditer(text):
            what = self.unkeyed.get(m.group().lower())
            if what:
                found.append(Finding(where, "unkeyed digest", what))
        for secret, what in self.secrets.items():
            if secret in text:
                found.append(Finding(where, "secret", what))
        return found


def _csv_rows(path: Path):
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        yield from csv.DictReader(fh)


def arrow_strings(value, out: set):
    """Every string inside a Python value read from Arrow: map keys and values, list items, struct fields."""
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, bytes):
        out.add(value.decode("utf-8", "replace"))
    elif isinstance(value, dict):
        for k, v in value.items():
            arrow_strings(k, out)
            arrow_strings(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            arrow_strings(v, out)


def parquet_strings(path: Path) -> tuple[set[str], int]:
    """(every distinct string in a Parquet file, including column names, rows)."""
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    table = pq.read_table(path)
    out: set[str] = set(table.column_names)
    for column in table.columns:
        t = column.type
        if pat.is_dictionary(t):
            t = t.value_type
        if pat.is_string(t) or pat.is_large_string(t):
            out.update(v for v in column.unique().to_pylist() if v is not None)
        elif pat.is_nested(t) or pat.is_binary(t) or pat.is_large_binary(t):
            arrow_strings(column.to_pylist(), out)
    return out, table.num_rows


def is_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


@dataclass
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # kind -> count
    rows: int = 0
    strings: int = 0
    lines: int = 0
    skipped: list[str] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)

    def count(self, kind: str):
        self.files[kind] = self.files.get(kind, 0) + 1

    def summary(self) -> str:
        tables = f"{len(self.tables)} tables, " if self.tables else ""
        return (f"{sum(self.files.values())} files {self.files}, {tables}{self.rows} rows, "
                f"{self.strings} distinct strings, {self.lines} text lines, {len(self.skipped)} binary assets skipped")


def text_of(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8", "replace")
    if path.suffix in (".html", ".htm", ".svg", ".xml"):
        text = text + "\n" + html.unescape(text)  # an email written as a&#64;b.com is still an email
    if path.suffix == ".json":
        try:  # "\u0040" and friends, decoded
            text = text + "\n" + json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text


def scan_tree(root: Path, catalog: Catalog, exclude: tuple[str, ...] = (), report: ScanReport | None = None,
              label: str | None = None) -> ScanReport:
    """Scan every file below root: Parquet by value, anything else as text (binary assets skipped).
    `exclude`: top-level folders left out (the restricted tables)."""
    report = report or ScanReport()
    label = label or root.name
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if rel.parts[0] in exclude:
            continue
        where = f"{label}/{rel}"
        for f in catalog.scan(str(rel), where + " (path)"):  # partition values are data too
            report.findings.append(f)
        if path.suffix in BINARY_SUFFIXES or path.name == "_SUCCESS":
            report.skipped.append(str(rel))
            continue
        if is_parquet(path):
            strings, rows = parquet_strings(path)
            report.count("parquet")
            report.rows += rows
            report.strings += len(strings)
            for s in strings:
                report.findings.extend(catalog.scan(s, where))
        else:
            text = text_of(path)
            report.count(path.suffix or "(none)")
            report.lines += text.count("\n") + 1
            report.findings.extend(catalog.scan(text, where))
    return report


def scan_log(text: str, catalog: Catalog, where: str) -> list[Finding]:
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        found.extend(catalog.scan(line, f"{where}:{n}"))
    return found


def restricted_tables() -> set[str]:
    from jobs.contracts import all_contracts

    return {c.name for (kind, _), c in all_contracts().items() if kind == "table" and c.restricted}


PUBLISHED = ("events", "crm_customers", "identity_map", "customers", "journey_events", "journeys", "stage_funnel",
             "funnel_results", "journey_paths", "friction_occurrences", "friction_points", "touchpoints", "pipeline_runs")


def assert_clean(findings: list[Finding], what: str):
    shown = "\n".join(str(f) for f in findings[:30])
    assert not findings, f"{len(findings)} PII finding(s) in {what}:\n{shown}"


# ------------------------------------------------------------------------------ fixtures

OTHER_KEY = b"another-key-0123456789abcdef"


@pytest.fixture(scope="module")
def pipeline_catalog(pipeline_warehouse):
    config, raw, summary, results = pipeline_warehouse
    secret = PIPELINE_KEY.secret.decode()
    ipad, opad = PIPELINE_KEY.pads()
    return Catalog.from_landing(raw, {secret: "the PII key", ipad.hex(): "the key's inner pad",
                                      opad.hex(): "the key's outer pad"})


def test_restricted_tables_are_documented_and_are_what_the_scans_leave_out():
    """The scans below leave out exactly the restricted tables: `quarantine`, which keeps raw
    lines. Being restricted must be said in the contract and the data dictionary."""
    restricted = restricted_tables()
    assert "quarantine" in restricted
    dictionary = (ROOT / "docs" / "data_dictionary.md").read_text()
    for table in restricted:
        contract = yaml.safe_load((ROOT / "schemas" / "tables" / f"{table}.yaml").read_text())
        assert contract["restricted"] is True and "RESTRICTED" in contract["description"], table
        assert f"### `{table}` (restricted)" in dictionary, table
    assert "may hold raw PII" in dictionary
    assert "Raw PII stays in the raw zone and in `quarantine` (restricted)" in (ROOT / "docs" / "normalize.md").read_text()
    assert "`quarantine` holds raw personal data" in (ROOT / "README.md").read_text()


def test_every_output_table_holds_no_raw_pii(pipeline_warehouse, pipeline_catalog):
    config, raw, summary, results = pipeline_warehouse
    warehouse = Path(config.warehouse)
    t0 = time.monotonic()
    tables = sorted(p.name for p in warehouse.iterdir() if p.is_dir() and not p.name.startswith("_"))
    restricted = restricted_tables()
    report = ScanReport()
    for table in tables:
        if table not in restricted:
            scan_tree(warehouse / table, pipeline_catalog, report=report, label=table)
            report.tables.add(table)
    # pipeline state, run manifests and anything else under the warehouse (validation: below)
    for extra in sorted(p.name for p in warehouse.iterdir() if p.is_dir() and p.name.startswith("_")):
        if extra != "_validation":
            scan_tree(warehouse / extra, pipeline_catalog, report=report, label=extra)
    print(f"\noutput scan ({time.monotonic() - t0:.1f} s): {report.summary()}; "
          f"searched for {pipeline_catalog.size}")
    assert_clean(report.findings, f"the output tables under {warehouse}")
    # the scan covered every published table but the restricted ones, and real data
    assert set(tables) >= set(PUBLISHED) and report.tables == set(tables) - restricted, tables
    assert report.files.get("parquet", 0) >= len(report.tables) and report.rows > 10_000
    assert len(pipeline_catalog.emails) > 100 and len(pipeline_catalog.phones) > 100
    # leaving quarantine out matters: it keeps raw lines, and they hold raw PII
    held = scan_tree(warehouse / "quarantine", pipeline_catalog, label="quarantine").findings
    print(f"quarantine (restricted, left out) holds {len(held)} raw PII value(s)")
    assert held, "no raw PII in quarantine: is it still restricted for a reason? (docs/data_dictionary.md)"


def test_validation_results_and_data_docs_hold_no_raw_pii(pipeline_warehouse, pipeline_catalog):
    config, raw, summary, results = pipeline_warehouse
    validation = Path(config.warehouse) / "_validation"
    report = scan_tree(validation, pipeline_catalog, label="_validation")
    print(f"\nvalidation scan: {report.summary()}")
    assert_clean(report.findings, f"the validation results and Data Docs under {validation}")
    assert report.files.get(".json", 0) >= 14 and report.files.get(".html", 0) >= 14, report.files
    assert (validation / "data_docs" / "index.html").exists()
    # the raw gates ran on the PII sources: their results are among those scanned
    suites = {p.stem for p in validation.glob("*/*.json")}
    assert {"crm_customers", "call_logs", "clickstream_events"} <= suites, suites
    # only GX's fonts and images were skipped as binary
    assert all(Path(p).suffix in BINARY_SUFFIXES or Path(p).name == "_SUCCESS" for p in report.skipped)


def _hash_values(warehouse: Path, table: str, columns: tuple[str, ...]) -> dict[str, set[str]]:
    import pyarrow.dataset as ds

    data = ds.dataset(warehouse / table, format="parquet", partitioning="hive").to_table(columns=list(columns))
    return {c: {v for v in data.column(c).to_pylist() if v} for c in columns}


def test_hashes_are_keyed_hmacs(pipeline_warehouse, pipeline_catalog):
    """Every email, phone and name hash is HMAC-SHA-256 under the run's key: none is a plain
    digest of the value, none matches another key, and each one is of a real value."""
    config, raw, summary, results = pipeline_warehouse
    warehouse = Path(config.warehouse)
    cat = pipeline_catalog
    values = {"email": cat.emails, "phone": {f"+1{p}" for p in cat.phones},
              "name": {f"{f} {l}" for f, l in cat.names}}

    def macs(key: bytes, kind: str) -> set[str]:
        return {hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in values[kind]}

    crm = _hash_values(warehouse, "crm_customers", ("email_hash", "phone_hash", "name_hash"))
    events = _hash_values(warehouse, "events", ("email_hash", "phone_hash"))
    checked = 0
    for kind, got in (("email", crm["email_hash"] | events["email_hash"]),
                      ("phone", crm["phone_hash"] | events["phone_hash"]), ("name", crm["name_hash"])):
        assert len(got) > 20, kind
        keyed = macs(PIPELINE_KEY.secret, kind)
        assert got <= keyed, f"{len(got - keyed)} {kind} hashes are not HMACs of a known {kind} under the key"
        assert not got & macs(OTHER_KEY, kind)
        plain = {h for v in values[kind] for h in digests(v)}
        assert not got & plain, f"{kind} hashes include plain digests"
        checked += len(got)
    print(f"\n{checked} distinct hashes are HMAC-SHA-256 under the run's key")


# ------------------------------------------------------------------------------ the scans can fail


def test_each_scan_finds_planted_pii(pipeline_warehouse, pipeline_catalog, tmp_path):
    """Plant raw PII in copies of a table file, a validation result, a Data Docs page and a log,
    and the same scans report each of them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    config, raw, summary, results = pipeline_warehouse
    warehouse = Path(config.warehouse)
    cat = pipeline_catalog
    email = sorted(cat.emails)[0]
    number = sorted(cat.phones)[0]
    first, last = sorted(cat.names)[0]

    # 1. a table: a copy of an events file with an email inside the attributes map
    table_dir = tmp_path / "wh" / "events" / "event_date=2026-01-05"
    table_dir.mkdir(parents=True)
    src = next((warehouse / "events").rglob("*.parquet"))
    t = pq.read_table(src)
    attrs = t.column("attributes").to_pylist()  # a map reads as a list of (key, value) pairs
    attrs[0] = [*(attrs[0] or []), ("note", f"call back {email.title()}")]
    t = t.set_column(t.schema.get_field_index("attributes"), "attributes", pa.array(attrs, t.schema.field("attributes").type))
    pq.write_table(t, table_dir / "part-00000.parquet")
    # the clean copy of the same file scans clean: the finding is the planted value
    pq.write_table(pq.read_table(src), tmp_path / "clean.parquet")
    assert not [f for s in parquet_strings(tmp_path / "clean.parquet")[0] for f in cat.scan(s, "clean")]
    # 2. a quarantine copy is left out, as the real one is
    (tmp_path / "wh" / "quarantine").mkdir()
    (tmp_path / "wh" / "quarantine" / "raw.json").write_text(json.dumps({"raw_record": email}))
    # 3. a validation result with a phone in another spelling, 4. a Data Docs page with an escaped email
    vdir = tmp_path / "wh" / "_validation" / "run"
    vdir.mkdir(parents=True)
    result = json.loads(next((warehouse / "_validation").glob("*/crm_customers.json")).read_text())
    result["partial_unexpected_list"] = [f"({number[:3]}) {number[3:6]}-{number[6:]}"]
    (vdir / "crm_customers.json").write_text(json.dumps(result))
    page = next((warehouse / "_validation" / "data_docs").rglob("raw-crm_customers.html")).read_text()
    (vdir / "page.html").write_text(page.replace("</body>", f"<td>{email.replace('@', '&#64;')}</td></body>"))
    # 5. a name, and an unkeyed digest, in the state files
    (tmp_path / "wh" / "_state").mkdir()
    (tmp_path / "wh" / "_state" / "x.json").write_text(json.dumps(
        {"who": f"{first.title()} {last.title()}", "h": hashlib.sha256(email.encode()).hexdigest()}))

    report = scan_tree(tmp_path / "wh", cat, exclude=("quarantine",), label="planted")
    kinds = {(Path(f.where.split(" ")[0]).parts[1], f.kind) for f in report.findings}
    assert ("events", "email") in kinds, report.findings
    assert ("_validation", "phone") in kinds and ("_validation", "email") in kinds, report.findings
    assert ("_state", "full name") in kinds and ("_state", "unkeyed digest") in kinds, report.findings
    assert not any("quarantine" in f.where for f in report.findings)

    # 6. a log line: a raw email, an E.164 phone, the key; and PII-looking values not in the data
    key = PIPELINE_KEY.secret.decode()
    log = "\n".join(["INFO journeys: normalize calls: 2 in, 1 out",
                     f"WARNING journeys: bad row {email.upper()}",
                     f"INFO journeys: caller +1{number} transferred",
                     f"DEBUG journeys: key={key}",
                     "ERROR x: someone.else@unknown.example (555) 010-9999"])
    found = {(f.where, f.kind) for f in scan_log(log, cat, "log")}
    assert found >= {("log:2", "email"), ("log:3", "phone"), ("log:4", "secret"), ("log:5", "email-like"),
                     ("log:5", "phone-like")}, found
    assert not scan_log(log.splitlines()[0], cat, "log")
    # clean text stays clean: timestamps, uuids, hashes, versions
    benign = ("2026-01-05 20:02:03.123 +0000 run 2026-01-05-20261123T052831-d0ba7f7b "
              "0124e5ec-9f5c-403f-4d7e-cd4edb6e1ba9 " + hmac.new(b"k" * 16, b"x", hashlib.sha256).hexdigest()
              + " spark 4.0.1 127.0.0.1:7077 rows_in=1393")
    assert not cat.scan(benign, "benign")
