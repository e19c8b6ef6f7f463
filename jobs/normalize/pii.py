"""PII handling with built-in Spark functions: normalise emails and phones, keyed hashing.

HMAC-SHA-256 is computed from sha2() and binary concat so it runs in the JVM for
every row. The key never appears as a literal in a query plan (plans end up in logs
and the Spark UI): it travels in a one-row broadcast frame that is cross-joined in.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

_BLOCK = 64  # SHA-256 block size in bytes
KEY_IPAD = "_pii_ipad"
KEY_OPAD = "_pii_opad"


class MissingPiiKey(Exception):
    """No usable HMAC key: the run refuses to hash with nothing or with a weak key."""


@dataclass(frozen=True)
class PiiKey:
    secret: bytes

    def __repr__(self) -> str:  # keep the key out of logs and tracebacks
        return "PiiKey(<redacted>)"

    def pads(self) -> tuple[bytes, bytes]:
        key = self.secret if len(self.secret) <= _BLOCK else hashlib.sha256(self.secret).digest()
        key = key.ljust(_BLOCK, b"\0")
        return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


DEMO_KEY = PiiKey(b"journeys-demo-key-not-a-secret")


def resolve_key(env_var: str, min_length: int, allow_demo: bool, airflow_conn_id: str | None = None) -> PiiKey:
    """Key from the environment, else an Airflow connection's password, else (demo only) the demo key."""
    value = os.environ.get(env_var)
    if not value and airflow_conn_id and os.environ.get("AIRFLOW_CTX_DAG_ID"):
        value = _airflow_connection_password(airflow_conn_id)
    if value:
        if len(value) < min_length:
            raise MissingPiiKey(f"{env_var} is shorter than pii.min_key_length ({min_length} characters)")
        return PiiKey(value.encode())
    if allow_demo:
        return DEMO_KEY
    raise MissingPiiKey(
        f"no PII key: set the environment variable {env_var} (or the Airflow connection "
        f"{airflow_conn_id!r}) to a secret of at least {min_length} characters; "
        "only `journeys demo` runs without one"
    )


def _airflow_connection_password(conn_id: str) -> str | None:
    try:
        from airflow.sdk import Connection  # imported lazily: Airflow is optional here
        return Connection.get(conn_id).password
    except Exception:  # no Airflow, or no such connection: fall through to the error
        return None


def with_key(df: DataFrame, spark: SparkSession, key: PiiKey) -> DataFrame:
    ipad, opad = key.pads()
    key_row = spark.createDataFrame([(bytearray(ipad), bytearray(opad))], f"{KEY_IPAD} binary, {KEY_OPAD} binary")
    return df.crossJoin(F.broadcast(key_row))


def hmac_sha256(value: Column) -> Column:
    """Hex HMAC-SHA-256 of a string column; needs the key columns added by with_key()."""
    inner = F.unhex(F.sha2(F.concat(F.col(KEY_IPAD), F.encode(value, "UTF-8")), 256))
    return F.when(value.isNotNull(), F.sha2(F.concat(F.col(KEY_OPAD), inner), 256))


def drop_key(df: DataFrame) -> DataFrame:
    return df.drop(KEY_IPAD, KEY_OPAD)


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164_PATTERN = r"^\+[1-9][0-9]{7,14}$"


def normalize_email(raw: Column) -> Column:
    """Trimmed, lower-cased email, or null when it does not look like one."""
    email = F.lower(F.trim(raw))
    return F.when(email.rlike(EMAIL_PATTERN), email)


def normalize_phone(raw: Column, country_code: str, national_length: int, trunk_prefix: str = "") -> Column:
    """E.164 form of a phone number written in any common format, or null."""
    no_ext = F.regexp_replace(F.trim(raw), r"(?i)\s*(ext\.?|extension|x|#)\s*[0-9]+$", "")
    digits = F.regexp_replace(no_ext, r"[^0-9]", "")
    cc_len = len(country_code)
    international = (
        F.when(no_ext.startswith("+"), digits)
        .when(digits.startswith("00"), F.substring(digits, 3, 64))
    )
    national = F.when(F.length(digits) == national_length, F.concat(F.lit(country_code), digits))
    if trunk_prefix:
        national = national.when(
            digits.startswith(trunk_prefix) & (F.length(digits) == national_length + len(trunk_prefix)),
            F.concat(F.lit(country_code), F.substring(digits, len(trunk_prefix) + 1, 64)),
        )
    national = national.when(
        digits.startswith(country_code) & (F.length(digits) == national_length + cc_len), digits
    )
    e164 = F.concat(F.lit("+"), F.coalesce(international, national))
    return F.when(e164.rlike(E164_PATTERN), e164)
