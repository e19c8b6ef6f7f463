"""Container health check: GET a URL and check fields of its JSON answer (standard library only).

    python docker/healthcheck.py URL [FIELD=VALUE ...]

Exits 0 when the URL answers 200 within 5 s and every FIELD (a dotted path into the JSON
answer) equals VALUE; otherwise prints what was wrong and exits 1. The compose file runs it
against the Airflow API server (`/api/v2/monitor/health`) and the Spark master (`/json/`);
tests/test_airflow_services.py and tests/test_docker.py run the same command outside containers.
"""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def field(doc, path: str):
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def check(url: str, expected: dict[str, str], timeout: float = 5.0) -> list[str]:
    """The problems found; empty when healthy."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        return [f"{url}: HTTP {exc.code}"]
    except (OSError, ValueError) as exc:
        return [f"{url}: {exc}"]
    if not expected:
        return []
    try:
        doc = json.loads(body)
    except ValueError:
        return [f"{url}: not JSON"]
    return [f"{path} is {field(doc, path)!r}, expected {want!r}"
            for path, want in expected.items() if str(field(doc, path)) != want]


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv[1:]):
        print("usage: healthcheck.py URL [FIELD=VALUE ...]", file=sys.stderr)
        return 2
    problems = check(argv[0], dict(a.split("=", 1) for a in argv[1:]))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
