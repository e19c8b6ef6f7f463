"""Persons, their devices and identifiers (vectorised)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generator import params as P
from jobs.generator.util import obj, permuted_numbers, stream, uuid_like, zero_pad

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley",
    "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda",
    "Jose", "Melissa", "Ryan", "Deborah", "Jacob", "Stephanie", "Lukas", "Sophie", "Priya", "Arjun",
    "Hannah", "Felix", "Chloe", "Oliver", "Mia", "Noah", "Zoe", "Liam", "Ana", "Mateo",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "O'Brien", "Mueller", "Schmidt", "Patel", "Sharma", "Kowalski", "Novak", "Dubois", "Rossi", "Silva",
)
AREA_CODES = (312, 773, 872, 630, 847, 708, 212, 646, 718, 917, 213, 310, 415, 628, 303, 720, 602, 480,
              617, 305, 404, 206, 512, 214, 469)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
COMPANY_WORDS = ("northwind", "contoso", "fabrikam", "tailspin", "wingtip", "adatum", "litware", "proseware",
                 "fourthcoffee", "woodgrove", "alpine", "margie")

USER_AGENTS = {
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
    "app": (
        "ShopApp/4.12.0 (iPhone15,2; iOS 18.1)",
        "ShopApp/4.12.0 (Pixel 8; Android 14)",
    ),
}
BOT_USER_AGENT = "Mozilla/5.0 (compatible; DataHarvestBot/2.1; +http://crawler.example.net/bot.html)"


def user_agent_table() -> tuple[list[str], dict[str, list[int]]]:
    table, by_type = [], {}
    for t in P.DEVICE_TYPES:
        by_type[t] = []
        for ua in USER_AGENTS[t]:
            by_type[t].append(len(table))
            table.append(ua)
    table.append(BOT_USER_AGENT)
    return table, by_type


@dataclass
class Population:
    n_humans: int
    n: int                      # humans + bots; bots are the last rows
    person_id: np.ndarray       # object
    is_bot: np.ndarray
    segment: np.ndarray         # int 0..2
    device_pref: np.ndarray     # int 0..3
    region: np.ndarray          # int index into P.REGIONS
    has_user: np.ndarray
    user_id: np.ndarray         # object ('' when none)
    cid_initial: np.ndarray     # CRM customer before the period
    cid_signup: np.ndarray      # CRM record created during the period without a purchase
    customer_id: np.ndarray     # object, reserved for every person (used only if the person becomes a customer)
    created_ms: np.ndarray      # CRM created_at of initial customers (else 0)
    existing_account: np.ndarray
    web_user_in_crm: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    email: np.ndarray           # canonical, object
    no_email: np.ndarray
    no_phone: np.ndarray
    phone: np.ndarray           # int64 10 digits (personal)
    phone2: np.ndarray          # second number, unknown to the CRM
    crm_phone: np.ndarray       # what the CRM holds: personal or the company switchboard
    company: np.ndarray         # -1 or company index (enterprise)
    rate: np.ndarray            # sessions per day
    # devices
    dev_owner: np.ndarray
    dev_type: np.ndarray
    dev_anon: np.ndarray        # object
    dev_ua: np.ndarray          # index into ua table
    dev_skew_ms: np.ndarray
    dev_shared: np.ndarray
    person_devices: np.ndarray  # (n, 4) device indexes, -1 padded; column 0 is the preferred device
    shared_pairs: np.ndarray    # (k, 2) person indexes sharing a device
    ua_table: list


def build_population(customers: int, seed: int, start_ms: int) -> Population:
    rng = stream(seed, "population")
    n_h = int(customers)
    n_bots = max(1, int(round(n_h / P.BOTS_PER_PERSONS)))
    n = n_h + n_bots
    width = max(6, len(str(n)))
    person_id = obj(np.char.add("P", zero_pad(np.arange(1, n + 1), width)))
    is_bot = np.zeros(n, bool)
    is_bot[n_h:] = True

    segment = rng.choice(3, size=n, p=P.SEGMENT_WEIGHTS)
    dw = np.asarray(P.DEVICE_WEIGHTS)
    u = rng.random(n)
    device_pref = (u[:, None] > np.cumsum(dw[segment], axis=1)).sum(axis=1).clip(0, 3)
    rw = np.asarray([r[2] for r in P.REGIONS])
    region = rng.choice(len(P.REGIONS), size=n, p=rw / rw.sum())

    has_user = (rng.random(n) < P.P_HAS_USER_ID) & ~is_bot
    uid_num = permuted_numbers(n, 10**8, stream(seed, 'user-ids'))
    user_id = np.where(has_user, obj(np.char.add("u", zero_pad(uid_num, 8))), "").astype(object)
    cid_initial = rng.random(n) < P.P_EXISTING_CUSTOMER
    cid_signup = ~cid_initial & (rng.random(n) < P.P_NEW_CUSTOMER_SIGNUP)
    cid_num = permuted_numbers(n, 10**7, stream(seed, 'customer-ids'))
    customer_id = obj(np.char.add("C", zero_pad(cid_num, 7)))
    created_ms = np.where(cid_initial, start_ms - rng.integers(2 * 86_400_000, 1200 * 86_400_000, n), 0)
    created_ms = (created_ms // 1000) * 1000
    existing_account = has_user & (rng.random(n) < P.P_EXISTING_ACCOUNT)
    web_user_in_crm = has_user & (rng.random(n) < P.P_WEB_USER_ID_IN_CRM)

    fi = rng.integers(0, len(FIRST_NAMES), n)
    li = rng.integers(0, len(LAST_NAMES), n)
    first = np.asarray(FIRST_NAMES, dtype=object)[fi]
    last = np.asarray(LAST_NAMES, dtype=object)[li]
    # a few names that need CSV quoting
    jr = rng.random(n) < 0.01
    last_written = np.where(jr, last + ", Jr.", last).astype(object)
    nick = rng.random(n) < 0.005
    short = np.char.ljust(first.astype("U20"), 3).astype("U3").astype(object)      # 'Robert "Rob"'
    first_written = np.where(nick, first + ' "' + short + '"', first).astype(object)

    # companies for enterprise persons
    company = np.full(n, -1, dtype=np.int64)
    ent = np.flatnonzero((segment == 2) & ~is_bot)
    ent = ent[rng.permutation(len(ent))]
    sizes = rng.integers(P.ENTERPRISE_COMPANY_SIZE[0], P.ENTERPRISE_COMPANY_SIZE[1] + 1, max(1, len(ent)))
    bounds = np.cumsum(sizes)
    company[ent] = np.searchsorted(bounds, np.arange(len(ent)), side="right")
    n_companies = int(company.max() + 1) if len(ent) else 0

    letters_first = np.char.lower(np.char.replace(first.astype("U20"), "'", ""))
    letters_last = np.char.lower(np.char.replace(last.astype("U20"), "'", ""))
    dom = np.asarray(EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(EMAIL_DOMAINS), n)]
    comp_dom = np.asarray([f"{COMPANY_WORDS[c % len(COMPANY_WORDS)]}-{c}.example" for c in range(max(1, n_companies))],
                          dtype=object)
    dom = np.where(company >= 0, comp_dom[np.maximum(company, 0)], dom).astype(object)
    email = obj(letters_first) + "." + obj(letters_last) + obj(np.arange(1, n + 1).astype("U12")) + "@" + dom
    no_email = rng.random(n) < P.P_NO_EMAIL_IN_CRM
    no_phone = rng.random(n) < P.P_NO_PHONE_IN_CRM

    # phone numbers: one affine-permuted space, sliced for personal / second / switchboard numbers
    n_area = len(AREA_CODES)
    space = n_area * 800 * 10_000
    nums = permuted_numbers(2 * n + n_companies + 1, space, stream(seed, 'phones'))
    area = np.asarray(AREA_CODES, dtype=np.int64)[nums % n_area]
    exch = 200 + (nums // n_area) % 800
    line = nums // (n_area * 800)
    digits = area * 10_000_000 + exch * 10_000 + line
    phone = digits[:n]
    phone2 = digits[n:2 * n]
    switchboard = digits[2 * n:2 * n + n_companies + 1]
    uses_sb = (company >= 0) & (rng.random(n) < P.P_ENTERPRISE_SWITCHBOARD)
    crm_phone = np.where(uses_sb, switchboard[np.maximum(company, 0)], phone)

    rate = rng.gamma(P.SESSION_RATE_SHAPE, P.SESSION_RATE_PER_DAY / P.SESSION_RATE_SHAPE, n)
    rate *= np.asarray(P.SEGMENT_RATE_MULT)[segment]

    # devices
    n_dev = 1 + rng.choice(3, size=n, p=P.DEVICES_PER_PERSON_WEIGHTS)
    n_dev[is_bot] = 1
    owner = np.repeat(np.arange(n), n_dev)
    first_of = np.cumsum(n_dev) - n_dev
    k = np.arange(len(owner)) - first_of[owner]
    other = (device_pref[owner] + 1 + rng.integers(0, 3, len(owner))) % 4
    dev_type = np.where(k == 0, device_pref[owner], other)
    dev_type[is_bot[owner]] = 0
    ua_table, ua_by_type = user_agent_table()
    ua_counts = np.asarray([len(ua_by_type[t]) for t in P.DEVICE_TYPES])
    ua_base = np.asarray([ua_by_type[t][0] for t in P.DEVICE_TYPES])
    dev_ua = ua_base[dev_type] + (rng.integers(0, 1 << 30, len(owner)) % ua_counts[dev_type])
    dev_ua[is_bot[owner]] = len(ua_table) - 1
    skewed = (rng.random(len(owner)) < P.P_SKEWED_DEVICE) & ~is_bot[owner]
    skew_h = rng.uniform(1.0, 48.0, len(owner)) * np.where(rng.random(len(owner)) < 0.5, -1.0, 1.0)
    dev_skew_ms = np.where(skewed, np.round(skew_h * 3_600_000), 0).astype(np.int64)

    # household pairs: B also uses A's preferred device
    cand = np.flatnonzero(has_user & ~is_bot & (segment == 0))
    at_least = 2 if n_h >= 100 else (1 if n_h >= 50 else 0)
    n_pairs = min(len(cand) // 2, max(at_least, int(round(P.P_HOUSEHOLD_PAIR * n_h / 2))))
    pick = rng.permutation(cand)[: 2 * n_pairs].reshape(-1, 2) if n_pairs > 0 else np.zeros((0, 2), np.int64)
    person_devices = np.full((n, 4), -1, dtype=np.int64)
    person_devices[owner, k] = np.arange(len(owner))
    dev_shared = np.zeros(len(owner), bool)
    for a, b in pick.tolist():          # one row per pair (a few dozen), not per event
        d = person_devices[a, 0]
        person_devices[b, 3] = d
        dev_shared[d] = True
    dev_anon = obj(uuid_like(np.arange(len(owner), dtype=np.uint64), seed * 101 + 5))
    return Population(
        n_humans=n_h, n=n, person_id=person_id, is_bot=is_bot, segment=segment, device_pref=device_pref,
        region=region, has_user=has_user, user_id=user_id, cid_initial=cid_initial & ~is_bot,
        cid_signup=cid_signup & ~is_bot, customer_id=customer_id, created_ms=created_ms,
        existing_account=existing_account, web_user_in_crm=web_user_in_crm,
        first_name=first_written, last_name=last_written, email=email, no_email=no_email, no_phone=no_phone,
        phone=phone, phone2=phone2, crm_phone=crm_phone, company=company, rate=rate,
        dev_owner=owner, dev_type=dev_type, dev_anon=dev_anon, dev_ua=dev_ua, dev_skew_ms=dev_skew_ms,
        dev_shared=dev_shared, person_devices=person_devices, shared_pairs=pick, ua_table=ua_table,
    )

