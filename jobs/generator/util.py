"""Vectorised helpers: seeded streams, ids, time zones, timestamp text, phones, files."""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

MS_HOUR = 3_600_000
MS_DAY = 86_400_000

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator per purpose, so one part's draws never shift another's."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32, key])


def mix64(x: np.ndarray, key: int) -> np.ndarray:
    """A bijection of uint64 (splitmix64 finaliser after adding a key): unique ids from indexes."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(key & 0xFFFFFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def hex_words(x: np.ndarray) -> np.ndarray:
    """uint64 -> 16 lower-case hex characters (numpy unicode array)."""
    b = np.ascontiguousarray(x.astype(">u8")).view(np.uint8).reshape(-1, 8)
    nib = np.empty((len(x), 16), dtype=np.uint8)
    nib[:, 0::2] = b >> 4
    nib[:, 1::2] = b & 15
    return _HEX[nib].view("S16").ravel().astype("U16")


def uuid_matrix(idx: np.ndarray, key: int) -> np.ndarray:
    """Unique UUID-formatted ids (8-4-4-4-12) from distinct integers, as an (n, 36) uint8 matrix."""
    hi = hex_words(mix64(idx, key))                      # unique because mix64 is a bijection
    lo = hex_words(mix64(idx, key ^ 0x5DEECE66D))
    hi_b = hi.astype("S16").view(np.uint8).reshape(-1, 16)
    lo_b = lo.astype("S16").view(np.uint8).reshape(-1, 16)
    out = np.full((len(idx), 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = hi_b[:, 0:8]
    out[:, 9:13] = hi_b[:, 8:12]
    out[:, 14:18] = hi_b[:, 12:16]
    out[:, 19:23] = lo_b[:, 0:4]
    out[:, 24:36] = lo_b[:, 4:16]
    out[:, 14] = ord("4")                                # version nibble, like a UUID4
    return out


def uuid_like(idx: np.ndarray, key: int) -> np.ndarray:
    return uuid_matrix(idx, key).view("S36").ravel().astype("U36")


# ------------------------------------------------------------- fixed-width byte fragments


def put_digits(m: np.ndarray, col: int, v: np.ndarray, width: int) -> None:
    """Write v (non-negative ints) as zero-padded decimal into m[:, col:col+width]."""
    v = np.asarray(v, dtype=np.int64).copy()
    for i in range(width - 1, -1, -1):
        m[:, col + i] = 48 + v % 10
        v //= 10


def put_const(m: np.ndarray, col: int, text: bytes) -> None:
    m[:, col:col + len(text)] = np.frombuffer(text, dtype=np.uint8)


def civil(days: np.ndarray):
    """Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant's algorithm)."""
    z = np.asarray(days, dtype=np.int64) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d


def put_iso_ms(m: np.ndarray, col: int, ms: np.ndarray) -> None:
    """'YYYY-MM-DDTHH:MM:SS.mmm' (23 bytes) of epoch ms into m[:, col:col+23]."""
    ms = np.asarray(ms, dtype=np.int64)
    days = ms // MS_DAY
    rest = ms - days * MS_DAY
    y, mo, d = civil(days)
    put_digits(m, col, y, 4)
    m[:, col + 4] = ord("-")
    put_digits(m, col + 5, mo, 2)
    m[:, col + 7] = ord("-")
    put_digits(m, col + 8, d, 2)
    m[:, col + 10] = ord("T")
    put_digits(m, col + 11, rest // MS_HOUR, 2)
    m[:, col + 13] = ord(":")
    put_digits(m, col + 14, (rest // 60_000) % 60, 2)
    m[:, col + 16] = ord(":")
    put_digits(m, col + 17, (rest // 1000) % 60, 2)
    m[:, col + 19] = ord(".")
    put_digits(m, col + 20, rest % 1000, 3)


def put_offset(m: np.ndarray, col: int, minutes: np.ndarray) -> None:
    """'+HH:MM' (6 bytes) into m[:, col:col+6]."""
    minutes = np.asarray(minutes, dtype=np.int64)
    m[:, col] = np.where(minutes < 0, ord("-"), ord("+"))
    a = np.abs(minutes)
    put_digits(m, col + 1, a // 60, 2)
    m[:, col + 3] = ord(":")
    put_digits(m, col + 4, a % 60, 2)


def rows_as_bytes(m: np.ndarray) -> np.ndarray:
    """(n, w) uint8 -> object array of n bytes objects."""
    m = np.ascontiguousarray(m)
    return m.view(f"S{m.shape[1]}").ravel().astype(object)


def permuted_numbers(n: int, modulus: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct, random-looking numbers in [0, modulus)."""
    if n > modulus:
        raise ValueError("too many ids for the id space")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    return rng.choice(modulus, size=n, replace=False).astype(np.int64)


def zero_pad(x: np.ndarray, width: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    if not len(x):
        return np.zeros(0, dtype=f"U{width}")
    return np.char.zfill(x.astype("U20"), width)


def obj(a) -> np.ndarray:
    """Any array of strings -> numpy object array of Python str."""
    return np.asarray(a).astype(object)


# ---------------------------------------------------------------- time zones


class OffsetTable:
    """UTC offsets (minutes) of several zones for every UTC hour of a range.

    All zones used change offset on whole UTC hours, so an hourly table is exact."""

    def __init__(self, zones: list[str], t0_ms: int, hours: int):
        self.zones = list(zones)
        self.t0_ms = int(t0_ms)
        self.hours = int(hours)
        idx = pd.date_range(pd.Timestamp(self.t0_ms, unit="ms", tz="UTC"), periods=self.hours, freq="h")
        naive = idx.tz_localize(None)
        table = np.empty((len(self.zones), self.hours), dtype=np.int32)
        for i, z in enumerate(self.zones):
            local = idx.tz_convert(z).tz_localize(None)
            table[i] = ((local - naive) // pd.Timedelta(minutes=1)).astype(np.int32)
        self.table = table

    def offset_minutes(self, zone_idx: np.ndarray, utc_ms: np.ndarray) -> np.ndarray:
        h = np.clip((np.asarray(utc_ms, dtype=np.int64) - self.t0_ms) // MS_HOUR, 0, self.hours - 1)
        return self.table[np.asarray(zone_idx), h]

    def local_ms(self, zone_idx, utc_ms) -> np.ndarray:
        return np.asarray(utc_ms, dtype=np.int64) + self.offset_minutes(zone_idx, utc_ms).astype(np.int64) * 60_000


def sql_seconds(ms: np.ndarray) -> np.ndarray:
    """epoch ms -> 'YYYY-MM-DD HH:MM:SS' (object array)."""
    ms = np.asarray(ms, dtype=np.int64)
    if not len(ms):
        return np.zeros(0, dtype=object)
    s = np.datetime_as_string(ms.astype("datetime64[ms]").astype("datetime64[s]"), unit="s")
    return np.char.replace(s, "T", " ").astype(object)


def day_text(ms: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]").astype("datetime64[D]"))


# --------------------------------------------------------------------- phones

PHONE_FORMATS = ("paren", "plus_spaced", "dotted", "intl_00", "e164", "dashed", "one_dashed", "digits")
PHONE_FORMAT_WEIGHTS = (0.22, 0.14, 0.12, 0.06, 0.18, 0.12, 0.06, 0.10)


def phone_text(digits10: np.ndarray, fmt: np.ndarray, ext: np.ndarray | None = None) -> np.ndarray:
    """10-digit NANP numbers (int64) in one of PHONE_FORMATS each; optional ' ext. N'."""
    if not len(digits10):
        return np.zeros(0, dtype=object)
    s = zero_pad(digits10, 10)
    b = s.astype("S10").view(np.uint8).reshape(-1, 10)
    a = b[:, 0:3].copy().view("S3").ravel().astype("U3").astype(object)
    e = b[:, 3:6].copy().view("S3").ravel().astype("U3").astype(object)
    ln = b[:, 6:10].copy().view("S4").ravel().astype("U4").astype(object)
    variants = [
        "(" + a + ") " + e + "-" + ln,
        "+1 " + a + " " + e + " " + ln,
        a + "." + e + "." + ln,
        "001 " + a + " " + e + " " + ln,
        "+1" + a + e + ln,
        a + "-" + e + "-" + ln,
        "1-" + a + "-" + e + "-" + ln,
        a + e + ln,
    ]
    out = np.choose(np.asarray(fmt), variants)
    if ext is not None:
        has = ext > 0
        if has.any():
            out = out.copy()
            out[has] = out[has] + " ext. " + np.asarray(ext[has]).astype("U6").astype(object)
    return out


def e164(digits10: np.ndarray) -> np.ndarray:
    return "+1" + zero_pad(digits10, 10).astype(object)


def email_variant(email: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Canonical (lower-case) emails written the way people type them into a CRM."""
    s = pd.Series(email, dtype=object)
    variants = [
        s.to_numpy(),
        s.str.upper().to_numpy(),
        s.str.title().to_numpy(),
        (" " + s).to_numpy(),
        (s + "  ").to_numpy(),
        (" " + s.str.capitalize() + " ").to_numpy(),
    ]
    return np.choose(np.asarray(kind), variants)


EMAIL_VARIANT_WEIGHTS = (0.55, 0.08, 0.12, 0.09, 0.08, 0.08)


# ---------------------------------------------------------------------- files


def gzip_bytes(chunks: list[bytes], level: int) -> bytes:
    """Deterministic gzip: no file name, mtime 0 (zlib's gzip wrapper writes exactly that)."""
    c = zlib.compressobj(level, zlib.DEFLATED, 31, 9)
    out = [c.compress(ch) for ch in chunks]
    out.append(c.flush())
    return b"".join(out)


def csv_quote(col: np.ndarray) -> np.ndarray:
    """RFC 4180 minimal quoting of an object array of str (None -> empty)."""
    if not len(col):
        return np.asarray(col, dtype=object)
    joined = "\x00".join(["" if x is None else str(x) for x in col.tolist()])
    if not any(ch in joined for ch in ',"\n\r'):
        return np.asarray(col, dtype=object)
    s = pd.Series(col, dtype=object).fillna("")
    need = s.str.contains('[",\n\r]', regex=True)
    if need.any():
        s = s.copy()
        s[need] = '"' + s[need].str.replace('"', '""', regex=False) + '"'
    return s.to_numpy(dtype=object)


def csv_lines(columns: list[np.ndarray]) -> np.ndarray:
    """One CSV line (without newline) per row from already-text columns."""
    quoted = [csv_quote(c) for c in columns]
    out = quoted[0]
    for q in quoted[1:]:
        out = out + "," + q
    return out
