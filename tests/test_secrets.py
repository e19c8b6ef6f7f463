"""Secrets stay out of the repository, the config files and the logs (SPEC 3.3, issue G).

- Every file git would commit is scanned for private keys, credentials in URLs, cloud and
  service tokens, secret-looking assignments and the PII keys the tests use; only the
  documented placeholders and test-only fixtures below are allowed, each with its reason.
- The PII key and the CRM database credentials come from environment variables or Airflow
  connections: the config file has no setting that could hold them, and one put there is
  rejected without being echoed.
- A run that hashes with a known key logs everything (Python logging at DEBUG, py4j's
  traffic with the JVM included) and the key appears nowhere in it.
Each scanner is shown to find what it looks for.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# ------------------------------------------------------------------------------ repository scan

# documented placeholders: "...", "***", <password>, ${VAR}, change-me-..., an environment variable's name
PLACEHOLDER = re.compile(r"^(?:\.\.\.|…|\*+|x+|<[^>]*>|\{[^}]*\}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%\([a-z_]+\)s|"
                         r"(?i:change-?me[-_a-z0-9]*|password|your[-_a-z]*)|[A-Z][A-Z0-9_]*_[A-Z0-9_]*)$")

DETECTORS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "credentials in a URL": re.compile(
        r"\b[a-z][a-z0-9+.\-]*://(?P<user>[^\s:/@'\"`<>]+):(?P<secret>[^\s/@'\"`<>]+)@[^\s'\"`<>]+", re.IGNORECASE),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?(?P<secret>[A-Za-z0-9/+=]{40})"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "Stripe-style key": re.compile(r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}\b"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "Airflow fernet key": re.compile(r"(?i)fernet_key\s*[=:]\s*['\"]?(?P<secret>[A-Za-z0-9_\-]{43}=)"),
    "secret assignment": re.compile(
        r"(?i)\b(?:password|passwd|pwd|secret|secret_key|token|api_?key|access_?key|private_?key|client_secret|"
        r"pii_key|hmac_key)\b['\"]?\s*[:=]\s*['\"](?P<secret>[^'\"\s]{6,})['\"]"),
    "PII key in the environment": re.compile(
        r"JOURNEYS_PII_KEY['\"]?\s*[:=,]\s*(?:\$\{JOURNEYS_PII_KEY:-)?['\"]?(?P<secret>[A-Za-z0-9_\-+/=]{16,})"),
    "PII key literal": re.compile(r"PiiKey\(\s*b['\"](?P<secret>[^'\"]+)['\"]"),
    "PII key constant": re.compile(r"\b[A-Z0-9_]*KEY\s*=\s*b?['\"](?P<secret>[^'\"\s]{16,})['\"]"),
}

# Every literal the scan finds that is allowed, where, and why. Nothing else may match.
ALLOWED = {
    # the demo's built-in key: README says only `journeys demo` (and the demo script) use it
    "journeys-demo-key-not-a-secret": ({"jobs/normalize/pii.py", "scripts/demo.sh"},
                                       "documented non-secret demo key (README: only the demo falls back to it)"),
    # a deliberately wrong password for a port nothing listens on: the test checks it is not echoed
    "secret": ({"tests/test_extract.py"}, "unreachable test database; the test asserts the password is never echoed"),
    # benchmark scripts' fallback when JOURNEYS_PII_KEY is unset (synthetic data only)
    "bench-key-0123456789abcdef": ({"bench/"}, "benchmark fallback key for synthetic data"),
    # tests/test_pii.py checks that this key never shows up in a query plan
    "super-secret-value-42": ({"tests/test_pii.py"}, "a key literal the plan test searches for"),
}
TEST_DIRS = ("tests/",)  # the keys the tests hash with are fixtures: here, and nowhere else


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    detector: str
    secret: str

    def __str__(self):
        return f"{self.path}:{self.line}: {self.detector}: {self.secret[:12]}…"


def repo_files() -> list[str]:
    """What git would commit: tracked files and new files that are not ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    return sorted({p for p in out.split("\0") if p and (ROOT / p).is_file()})


def scan_text(path: str, text: str) -> list[Hit]:
    hits = []
    for n, line in enumerate(text.splitlines(), 1):
        for name, rx in DETECTORS.items():
            for m in rx.finditer(line):
                secret = m.groupdict().get("secret") or m.group()
                hits.append(Hit(path, n, name, secret))
    return hits


def disallowed(hit: Hit) -> bool:
    if PLACEHOLDER.match(hit.secret):
        return False
    if hit.secret in ALLOWED:  # allowed in these files, or below these folders
        return not any(hit.path == p or (p.endswith("/") and hit.path.startswith(p)) for p in ALLOWED[hit.secret][0])
    if hit.detector.startswith("PII key") and hit.path.startswith(TEST_DIRS):
        return False  # a test's key; test_the_pii_keys_the_tests_use_stay_in_the_tests keeps it here
    return True


def test_no_secret_in_the_repository():
    files = repo_files()
    hits, scanned, lines = [], 0, 0
    for path in files:
        data = (ROOT / path).read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", "replace")
        scanned += 1
        lines += text.count("\n") + 1
        hits.extend(scan_text(path, text))
    bad = [h for h in hits if disallowed(h)]
    print(f"\nsecret scan: {scanned} files, {lines} lines, {len(DETECTORS)} detectors, "
          f"{len(hits)} matches, all allowed: {sorted({h.secret for h in hits})}")
    assert not bad, "secrets in the repository:\n" + "\n".join(map(str, bad))
    assert scanned > 150 and "jobs/normalize/pii.py" in files
    # every allowance is still needed (a stale one would hide a future leak under its name)
    used = {h.secret for h in hits}
    assert set(ALLOWED) <= used, set(ALLOWED) - used


def test_the_pii_keys_the_tests_use_stay_in_the_tests():
    """Every key a test hashes with is a test-only literal, and no other file holds one."""
    keys = set()
    for path in sorted((ROOT / "tests").glob("*.py")):
        for hit in scan_text(f"tests/{path.name}", path.read_text()):
            if hit.detector.startswith("PII key"):
                keys.add(hit.secret)
    keys = {k for k in keys if not PLACEHOLDER.match(k)}
    keys.discard("super-secret-value-42")  # test_pii's plan check: a literal key by design
    assert {"test-key-0123456789abcdef", "pipeline-test-key-0123456789", "e2e-test-key-0123456789abcdef"} <= keys
    outside = []
    for path in repo_files():
        if path.startswith(TEST_DIRS) or b"\0" in (ROOT / path).read_bytes()[:8192]:
            continue
        text = (ROOT / path).read_text(errors="replace")
        outside += [f"{path}: {k}" for k in keys if k in text]
    assert not outside, outside


def test_no_credential_files_are_committed():
    files = repo_files()
    risky = re.compile(r"(^|/)(\.env(\..+)?|.*\.pem|.*\.key|.*\.p12|.*\.pfx|id_rsa.*|id_ed25519.*|\.pgpass|\.netrc|"
                       r"airflow\.cfg|airflow\.db|webserver_config\.py|credentials(\.json)?|.*\.keytab)$")
    assert not [f for f in files if risky.search(f)], [f for f in files if risky.search(f)]
    # where the demo keeps Airflow's config (fernet key) and connections (the PII key), and the
    # compose file's real settings (docker/env.example says how to make them), are ignored
    for path in (".airflow/airflow.cfg", ".airflow/airflow.db", "data/warehouse/events/x.parquet", "docker/.env"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0, path


def test_each_detector_finds_a_planted_secret(tmp_path):
    # stored base64-encoded and decoded at run time, so this file itself holds none of them
    planted = dict((name, base64.b64decode(line).decode()) for name, line in [
        ("private key", "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ=="),
        ("credentials in a URL", "dXJsID0gJ3Bvc3RncmVzcWw6Ly9ldGw6U3RyMG5nUGE1NUBkYi5pbnRlcm5hbDo1NDMyL2NybSc="),
        ("AWS access key id", "YXdzX2FjY2Vzc19rZXlfaWQgPSBBS0lBUVFRUVFRUVFRUVFRUVFRUQ=="),
        ("AWS secret access key", "YXdzX3NlY3JldF9hY2Nlc3Nfa2V5ID0gYTFCMmExQjJhMUIyYTFCMmExQjJhMUIyYTFCMmExQjJhMUIyYTFCMg=="),
        ("GitHub token", "Z2hwX3gxWTJ4MVkyeDFZMngxWTJ4MVkyeDFZMngxWTJ4MVkyeDFZMg=="),
        ("Slack token", "eG94Yi0xMjM0NTY3ODkwLWFiY2RlZg=="),
        ("Google API key", "QUl6YVNTU1NTU1NTU1NTU1NTU1NTU1NTU1NTU1NTU1NTU1NTU1NT"),
        ("Stripe-style key", "c2tfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM="),
        ("JSON web token", "ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZXlKemRXSWlPaUl4TWpNME5UWTNPRGt3SW4wLlNmbEt4d1JKU01lS0tGMlFUNGZ3cE1lSmYzNg=="),
        ("Airflow fernet key", "ZmVybmV0X2tleSA9IEFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE9"),
        ("secret assignment", "cGFzc3dvcmQ6ICJodW50ZXIyaHVudGVyMiI="),
        ("PII key in the environment", "ZXhwb3J0IEpPVVJORVlTX1BJSV9LRVk9cHJvZC1obWFjLWtleS05ZjhlN2Q2YzViNGE="),
        ("PII key constant", "UFJPRF9ITUFDX0tFWSA9ICI5YzFmMGU3ZDJiNGE2MzU4YTFjMCI="),
        ("PII key literal", "S0VZID0gUGlpS2V5KGIicmVhbC1wcm9kdWN0aW9uLWtleS03NyIp"),
    ])
    assert set(planted) == set(DETECTORS)
    for name, line in planted.items():
        path = tmp_path / "planted.txt"
        path.write_text(f"harmless line\n{line}\n")
        hits = [h for h in scan_text("config/planted.yaml", path.read_text()) if disallowed(h)]
        assert [(h.line, h.detector) for h in hits if h.detector == name] == [(2, name)], (name, hits)
    # the same test keys outside tests/ are reported; documented placeholders are not
    assert [h for h in scan_text("dags/x.py", base64.b64decode("UGlpS2V5KGIiZTJlLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmNkZWYiKQ==").decode())
            if disallowed(h)]
    assert [h for h in scan_text("docs/x.md", base64.b64decode("Sk9VUk5FWVNfUElJX0tFWT1qb3VybmV5cy1kZW1vLWtleS1ub3QtYS1zZWNyZXQ=").decode())
            if disallowed(h)]
    for ok in ("--conn-password '...'", "postgresql://user:<password>@host/db", "JOURNEYS_PII_KEY=...16+ characters...",
               "postgresql://postgres@127.0.0.1:5432/test", "password: ${CRM_PASSWORD}"):
        assert not [h for h in scan_text("docs/x.md", ok) if disallowed(h)], ok


# ------------------------------------------------------------------------------ configuration


def _config_file(tmp_path, mutate) -> str:
    doc = yaml.safe_load((ROOT / "config" / "journeys.yaml").read_text())
    mutate(doc)
    path = tmp_path / "journeys.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


YAML_KEY = "hmac-key-in-the-yaml-0123456789"
DB_URL = "postgresql://journeys_reader:" + "pw-in-the-yaml-42" + "@crm.internal:5432/crm"


@pytest.mark.parametrize("where, mutate", [
    ("pii.key", lambda d: d["pii"].update(key=YAML_KEY)),
    ("pii.secret", lambda d: d["pii"].update(secret=YAML_KEY)),
    ("extract.crm_sql.url", lambda d: d.setdefault("extract", {}).setdefault("crm_sql", {}).update(url=DB_URL)),
    ("extract.crm_sql.password", lambda d: d.setdefault("extract", {}).setdefault("crm_sql", {}).update(
        password=YAML_KEY)),
])
def test_the_config_file_cannot_hold_the_key_or_db_credentials(tmp_path, capsys, where, mutate):
    """No config setting holds a secret: one written there stops every command (exit 2) with
    a line naming the setting, and the value is not echoed."""
    from jobs.cli import main
    from jobs.config import ConfigError, load_config

    cfg = _config_file(tmp_path, mutate)
    with pytest.raises(ConfigError) as failure:
        load_config(cfg)
    assert f"{where}: unknown setting" in str(failure.value)
    assert main(["run", "--date", "2026-01-05", "--config", cfg]) == 2
    err = capsys.readouterr().err
    assert where in err and len(err.strip().splitlines()) == 1
    assert YAML_KEY not in err + str(failure.value) and "pw-in-the-yaml" not in err + str(failure.value)


def test_config_names_where_the_secrets_come_from():
    from jobs.config import load_config

    config = load_config(ROOT / "config" / "journeys.yaml")
    assert config.pii.key_env == "JOURNEYS_PII_KEY" and config.pii.airflow_conn_id == "journeys_pii"
    assert config.extract.crm_sql.url_env == "JOURNEYS_CRM_URL" and config.extract.crm_sql.conn_id == "journeys_crm"
    text = (ROOT / "config" / "journeys.yaml").read_text()
    assert "never put the key itself in this file" in text
    # no setting of the model is meant for a secret value
    names = set()

    def walk(model, prefix=""):
        for name, f in type(model).model_fields.items():
            value = getattr(model, name)
            names.add(prefix + name)
            if hasattr(type(value), "model_fields"):
                walk(value, prefix + name + ".")
    walk(config)
    assert not [n for n in names if re.search(r"(password|secret|token|(^|\.)key$|(^|\.)url$)", n)], names


PROBE = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from jobs.config import load_config
from jobs.normalize.pii import resolve_key
from jobs.extract import crm_url
from jobs.extract.sql import safe_url
import journeys_tasks
from airflow.sdk._shared.secrets_masker import redact

config = load_config(sys.argv[2])
out = {}
key = resolve_key(config.pii.key_env, config.pii.min_key_length, allow_demo=False,
                  airflow_conn_id=config.pii.airflow_conn_id)
out["key"] = key.secret.decode()
out["driver_env_key"] = journeys_tasks._pii_key(config)          # handed to spark-submit's environment
out["masked"] = redact(f"token {out['key']} end") if out["driver_env_key"] else None
url = crm_url(config, from_connection=journeys_tasks.crm_url_from_connection)
out["crm_url"] = url if isinstance(url, str) else url.render_as_string(hide_password=False)
out["crm_url_shown"] = safe_url(url)
print("RESULT " + json.dumps(out))
"""


def _probe(tmp_path, env_extra: dict) -> dict:
    cfg = _config_file(tmp_path, lambda d: d.setdefault("extract", {}).setdefault("crm_sql", {}).update(enabled=True))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW_CTX_DAG_ID="journeys_nightly", **env_extra)
    done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "dags"), cfg], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


CONN_KEY = "connection-key-" + "7c1d9e04b2a65f38"
ENV_KEY = "environment-key-" + "3a9f0c6e18d2b754"
CONN_URL = "postgresql://journeys_reader:" + "conn-pw-5q8z" + "@crm.internal:5432/crm"
ENV_URL = "postgresql://etl:" + "env-pw-2k7w" + "@crm-replica.internal:5432/crm"


def test_key_and_db_credentials_come_from_airflow_connections_or_the_environment(tmp_path):
    conns = {"AIRFLOW_CONN_JOURNEYS_PII": json.dumps({"conn_type": "generic", "password": CONN_KEY}),
             "AIRFLOW_CONN_JOURNEYS_CRM": CONN_URL}
    # inside Airflow without the variables: the connections give both
    got = _probe(tmp_path, conns)
    assert got["key"] == CONN_KEY and got["driver_env_key"] == CONN_KEY
    assert got["masked"] == "token *** end"  # registered with Airflow's log masker
    # the connection's hook names the driver (postgresql+psycopg://...); user, password, host are the connection's
    assert got["crm_url"].split("://", 1)[1] == CONN_URL.split("://", 1)[1]
    assert "conn-pw-5q8z" not in got["crm_url_shown"]  # what the extract logs as its origin
    assert got["crm_url_shown"].endswith("://journeys_reader:***@crm.internal:5432/crm")
    # the environment wins over the connections; spark-submit then inherits the key
    got = _probe(tmp_path, {**conns, "JOURNEYS_PII_KEY": ENV_KEY, "JOURNEYS_CRM_URL": ENV_URL})
    assert got["key"] == ENV_KEY and got["driver_env_key"] is None
    assert got["crm_url"] == ENV_URL and "env-pw-2k7w" not in got["crm_url_shown"]


# ------------------------------------------------------------------------------ logs

LOGGED_KEY = "logged-run-key-" + "b83e61f0d2c94a57"


class Watch(logging.Handler):
    """Reads every log record of every logger, message and traceback, for the given strings."""

    def __init__(self, secrets: tuple[str, ...]):
        super().__init__(logging.DEBUG)
        self.secrets, self.records, self.loggers, self.hits = secrets, 0, set(), []

    def emit(self, record):
        self.records += 1
        self.loggers.add(record.name.split(".")[0])
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        self.hits += [(record.name, s[:12]) for s in self.secrets if s in text]


def test_the_key_never_appears_in_the_logs_of_a_run(spark, base_config, tmp_path, capsys):
    """Normalize one small day (the step that hashes with the key) with every Python logger at
    DEBUG, py4j's record of each call into the JVM included, and read every record and everything
    printed for the key and its HMAC pads. (`journeys run` in a process of its own, Spark's output
    included: tests/test_pii_scan.py; Airflow's task logs: tests/test_airflow_e2e.py.)"""
    from jobs.generator import generate
    from jobs.normalize.pii import PiiKey
    from jobs.pipeline import normalize

    key = PiiKey(LOGGED_KEY.encode())
    ipad, opad = key.pads()
    secrets = (LOGGED_KEY, ipad.hex(), opad.hex(), LOGGED_KEY.encode().hex())
    raw = tmp_path / "raw"
    generate(raw, customers=15, days=1, seed=31)
    config = base_config.with_overrides(warehouse=str(tmp_path / "warehouse"),
                                        sources={s: {"path": str(raw / s)} for s in
                                                 ("clickstream", "crm_customers", "crm_activities", "calls")})
    watch = Watch(secrets)
    root = logging.getLogger()
    # the chatty libraries go to the watch alone (pytest's own capture would keep every record)
    chatty = ("py4j", "great_expectations")
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate)
             for name in ("", "journeys", "jobs", *chatty)}
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in ("", *chatty):
        logging.getLogger(name).addHandler(watch)
    for name in chatty:
        logging.getLogger(name).propagate = False
    try:
        result = normalize(spark, config, date(2026, 1, 5), key)
    finally:
        for name, (level, propagate) in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).propagate = propagate
        for name in ("", *chatty):
            logging.getLogger(name).removeHandler(watch)
    out = capsys.readouterr()
    printed = "\n".join([out.out, out.err, repr(result), repr(key), str(key)])
    print(f"\n{watch.records} log records from {sorted(watch.loggers)} and {len(printed)} printed characters "
          "searched for the key and its pads")
    assert watch.records > 1000 and "py4j" in watch.loggers  # every call into the JVM was seen
    assert result.totals.rows_out > 100
    assert not watch.hits, watch.hits
    assert not [s for s in secrets if s in printed]
    # the search can fail: the key, had it been logged, is found
    watch.hits.clear()
    root.addHandler(watch)
    try:
        logging.getLogger("journeys").warning("hashing with %s", key.secret.decode())
    finally:
        root.removeHandler(watch)
    assert watch.hits == [("journeys", LOGGED_KEY[:12])]
