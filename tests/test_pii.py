import hashlib
import hmac

import pytest

from jobs.normalize.pii import (DEMO_KEY, MissingPiiKey, PiiKey, drop_key, hmac_sha256, normalize_email,
                                normalize_phone, resolve_key, with_key)
from pyspark.sql import functions as F


@pytest.mark.parametrize("secret", [b"short-key-123456", b"k" * 64, b"a much longer key " * 10])
def test_hmac_matches_python(spark, secret):
    key = PiiKey(secret)
    values = ["alice@example.com", "+13125550142", "", "ünïcødé"]
    df = spark.createDataFrame([(v,) for v in values] + [(None,)], "v string")
    got = drop_key(with_key(df, spark, key).select("v", hmac_sha256(F.col("v")).alias("h"))).collect()
    for row in got:
        expected = None if row.v is None else hmac.new(secret, row.v.encode(), hashlib.sha256).hexdigest()
        assert row.h == expected


def test_key_is_not_in_the_query_plan(spark):
    key = PiiKey(b"super-secret-value-42")
    df = with_key(spark.createDataFrame([("x",)], "v string"), spark, key).select(hmac_sha256(F.col("v")))
    ipad, opad = key.pads()
    plan = df._jdf.queryExecution().toString()
    for secret in (ipad.hex(), opad.hex(), "super-secret-value-42"):
        assert secret not in plan
    assert "redacted" in repr(key)


PHONES = [
    ("(312) 555-0142", "+13125550142"),
    ("+1 312 555 0142", "+13125550142"),
    ("312.555.0142", "+13125550142"),
    ("001 312 555 0142", "+13125550142"),
    ("+13125550142", "+13125550142"),
    ("1-312-555-0142", "+13125550142"),
    ("312-555-0142 ext. 12", "+13125550142"),
    ("312 555 0142 x7", "+13125550142"),
    ("+44 20 7946 0958", "+442079460958"),
    ("555-0142", None),
    ("not a phone", None),
    ("", None),
    (None, None),
]


def test_phone_to_e164(spark):
    df = spark.createDataFrame(PHONES, "p string, expected string")
    got = df.select("p", "expected", normalize_phone(F.col("p"), "1", 10).alias("e")).collect()
    assert [(r.p, r.e) for r in got] == [(r.p, r.expected) for r in got]


def test_trunk_prefix_for_national_formats(spark):
    df = spark.createDataFrame([("020 7946 0958",)], "p string")
    assert df.select(normalize_phone(F.col("p"), "44", 10, "0").alias("e")).first().e == "+442079460958"


EMAILS = [
    ("  Alice.Smith@Example.COM ", "alice.smith@example.com"),
    ("bob@example.org", "bob@example.org"),
    ("no-at-sign.example.com", None),
    ("two words@example.com", None),
    (None, None),
]


def test_email_normalisation(spark):
    df = spark.createDataFrame(EMAILS, "e string, expected string")
    got = df.select("e", "expected", normalize_email(F.col("e")).alias("n")).collect()
    assert [(r.e, r.n) for r in got] == [(r.e, r.expected) for r in got]


def test_key_resolution(monkeypatch):
    monkeypatch.delenv("JOURNEYS_TEST_KEY", raising=False)
    with pytest.raises(MissingPiiKey, match="JOURNEYS_TEST_KEY"):
        resolve_key("JOURNEYS_TEST_KEY", 16, allow_demo=False)
    assert resolve_key("JOURNEYS_TEST_KEY", 16, allow_demo=True) is DEMO_KEY
    monkeypatch.setenv("JOURNEYS_TEST_KEY", "short")
    with pytest.raises(MissingPiiKey, match="shorter"):
        resolve_key("JOURNEYS_TEST_KEY", 16, allow_demo=False)
    monkeypatch.setenv("JOURNEYS_TEST_KEY", "a-long-enough-secret")
    assert resolve_key("JOURNEYS_TEST_KEY", 16, allow_demo=False).secret == b"a-long-enough-secret"


def test_hashing_is_keyed(spark):
    """The same email under two keys gives two unrelated hashes, neither of them a plain digest of
    the value: without the key, hashing a list of candidate emails finds nothing."""
    email = "alice.smith@example.com"
    df = spark.createDataFrame([(email,)], "v string")

    def hashed(secret: bytes) -> str:
        return drop_key(with_key(df, spark, PiiKey(secret)).select(hmac_sha256(F.col("v")).alias("h"))).first().h

    a, b = hashed(b"first-key-0123456789"), hashed(b"second-key-0123456789")
    assert a != b and len(a) == len(b) == 64
    plain = {hashlib.sha256(email.encode()).hexdigest(), hashlib.sha1(email.encode()).hexdigest(),
             hashlib.md5(email.encode()).hexdigest(), hashlib.sha256(b"first-key-0123456789" + email.encode()).hexdigest()}
    assert not {a, b} & plain
    assert a == hashed(b"first-key-0123456789")  # deterministic under one key
