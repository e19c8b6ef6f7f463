"""Every tunable of the synthetic world in one place (documented in docs/generator.md).

Nothing here is random: the generator draws from these tables with seeded numpy
generators, so changing a number here changes the data deterministically.
"""
from __future__ import annotations

# ----------------------------------------------------------------- population

SEGMENTS = ("consumer", "small_business", "enterprise")
SEGMENT_WEIGHTS = (0.75, 0.18, 0.07)

DEVICE_TYPES = ("desktop", "mobile", "tablet", "app")
# preferred device by segment (rows follow SEGMENTS)
DEVICE_WEIGHTS = (
    (0.30, 0.42, 0.08, 0.20),
    (0.50, 0.30, 0.07, 0.13),
    (0.70, 0.18, 0.07, 0.05),
)
DEVICES_PER_PERSON_WEIGHTS = (0.55, 0.33, 0.12)  # 1, 2 or 3 devices

# region -> (IANA time zone, weight)
REGIONS = (
    ("us-central", "America/Chicago", 0.30),
    ("us-east", "America/New_York", 0.25),
    ("us-west", "America/Los_Angeles", 0.15),
    ("us-mountain", "America/Denver", 0.05),
    ("us-southwest", "America/Phoenix", 0.03),
    ("eu-west", "Europe/London", 0.10),
    ("eu-central", "Europe/Berlin", 0.08),
    ("apac-south", "Asia/Kolkata", 0.04),
)
CALL_CENTRE_TZ = "America/Chicago"
CALL_CENTRE_OPEN_HOUR = 7      # local, inclusive
CALL_CENTRE_CLOSE_HOUR = 21    # local, no call starts at or after this hour

P_HAS_USER_ID = 0.82           # web login account
P_EXISTING_CUSTOMER = 0.72     # CRM customer created before the period
P_NEW_CUSTOMER_SIGNUP = 0.10   # of the others: CRM record created during the period without a purchase
P_WEB_USER_ID_IN_CRM = 0.75    # CRM knows the web login from the start (else maybe later by an update)
P_EXISTING_ACCOUNT = 0.70      # web account existed before the period (else a signup happens)
P_NO_EMAIL_IN_CRM = 0.05
P_NO_PHONE_IN_CRM = 0.07
P_HOUSEHOLD_PAIR = 0.01        # fraction of persons in a pair sharing one device
ENTERPRISE_COMPANY_SIZE = (2, 8)
P_ENTERPRISE_SWITCHBOARD = 0.8  # enterprise persons whose CRM phone is the company switchboard
P_SECOND_PHONE_CALLS = 0.10    # callers using a number the CRM does not know
P_WITHHELD_NUMBER = 0.03       # calls without caller number

BOTS_PER_PERSONS = 5000        # one bot per this many persons, at least one
BOT_EVENTS_PER_DAY = (1000, 1800)

# ------------------------------------------------------------------ sessions

SESSION_RATE_PER_DAY = 0.74    # mean web sessions per person per day (gamma-distributed per person)
SESSION_RATE_SHAPE = 2.0
SEGMENT_RATE_MULT = (1.0, 0.9, 0.7)
STUCK_RATE_MULT = 0.5          # people who gave up visit half as often
MIN_IDLE_MINUTES = 31          # sessions are separated by more than 30 minutes
NIGHT_SHIFT_PROB = 0.85        # a session planned for 00-07 local is moved to the morning
NORMAL_GAP_MEAN_S = 22.0       # mean gap between events inside a session (plus 1 s minimum)
P_PREFERRED_DEVICE = 0.75

# initial journey stage of a person at the start of the period
INITIAL_STAGE_WEIGHTS_PROSPECT = (0.55, 0.35, 0.10)      # awareness, consideration, intent
P_EXISTING_CUSTOMER_IN_LOYALTY = 0.5                     # existing customers start in use/loyalty

STAGES = ("awareness", "consideration", "purchase_intent", "purchase", "use_loyalty")

# per-session hazard: advance to the next stage / abandon the journey, by stage
BASE_ADVANCE = {"awareness": 0.45, "consideration": 0.32, "purchase_intent": 0.34}
BASE_ABANDON = {"awareness": 0.22, "consideration": 0.14, "purchase_intent": 0.12}
SEGMENT_ADVANCE_MULT = {"consumer": 1.0, "small_business": 1.1, "enterprise": 0.8}
SEGMENT_ABANDON_MULT = {"consumer": 1.0, "small_business": 0.9, "enterprise": 0.7}
DEVICE_ADVANCE_MULT = {"desktop": 1.1, "mobile": 0.8, "tablet": 0.9, "app": 1.25}
DEVICE_ABANDON_MULT = {"desktop": 0.9, "mobile": 1.2, "tablet": 1.1, "app": 0.8}
P_CONTINUE_IN_SESSION = 0.35   # after advancing, the next stage starts in the same session
P_REPURCHASE_CYCLE = 0.10      # a use/loyalty session starts a new purchase cycle (next: consideration)

# intent-session shape for visitors who do not intend to buy in this session
P_CHECKOUT_NO_INTENT = 0.5
P_PAYMENT_NO_INTENT = 0.5
P_SINGLE_COUPON_CLICK = 0.2
P_SIGNUP_IN_CONSIDERATION = 0.25
P_SINGLE_FORM_ERROR = 0.2

# login probability per session by the session's first stage (persons with a web account)
P_LOGIN = {"awareness": 0.10, "consideration": 0.30, "purchase_intent": 0.70, "use_loyalty": 0.80, "stuck": 0.15}
P_LOGIN_SHARED_DEVICE = 0.9
P_USE_SHARED_DEVICE = 0.4     # sessions of the second household member on the shared device

# --------------------------------------------------------------- friction
# Every friction: eligible occurrences get the friction with `rate`, and a person who
# meets it gives the journey up with `give_up` (their later sessions are browse-only).

FRICTIONS = {
    "payment_failed": dict(
        source="clickstream", signal="error_event", event_type="payment_failed",
        touchpoint="/checkout/payment", stage="purchase_intent",
        eligible="intent sessions that reach /checkout/payment",
        rate={"mobile": 0.35, "desktop": 0.06, "tablet": 0.06, "app": 0.06}, give_up=0.6,
        detection="event_type payment_failed on page_path /checkout/payment",
    ),
    "rage_click_coupon": dict(
        source="clickstream", signal="rage_click", event_type="click",
        touchpoint="/cart", element_id="#apply-coupon", stage="purchase_intent",
        eligible="intent sessions (they all reach /cart)",
        rate=0.10, give_up=0.45,
        detection=">=3 consecutive clicks on #apply-coupon, each <1 s after the previous",
    ),
    "signup_form_error_loop": dict(
        source="clickstream", signal="loop", event_type="form_error",
        touchpoint="/signup", stage="consideration",
        eligible="consideration sessions with a signup attempt",
        rate=0.30, give_up=0.5,
        detection="3 x (page_view /signup, form_error) in one session (/signup revisited >=3 times)",
    ),
    "search_error_page": dict(
        source="clickstream", signal="error_event", event_type="error_page",
        touchpoint="/search", stage="consideration",
        eligible="consideration sessions",
        rate=0.06, give_up=0.3,
        detection="event_type error_page (properties.status 500) on page_path /search",
    ),
    "long_queue_wait": dict(
        source="calls", signal="long_wait", touchpoint="payments", stage="purchase_intent",
        eligible="escalation calls (a call after an intent web session without purchase)",
        rate={"payments": 0.35, "other": 0.04}, give_up=0.35, threshold_seconds=600,
        detection="wait_seconds > 600 (injected waits are 660-1800 s; normal waits <= 300 s)",
    ),
    "abandoned_call": dict(
        source="calls", signal="abandoned_call", touchpoint="any queue", stage="purchase_intent",
        eligible="escalation calls", rate=0.12, give_up=0.4,
        detection="disposition abandoned (answered_at empty)",
    ),
    "multi_transfer": dict(
        source="calls", signal="transfers", touchpoint="general", stage="purchase_intent",
        eligible="answered escalation calls",
        rate={"general": 0.30, "other": 0.05}, give_up=0.3,
        detection="transfers >= 2",
    ),
    "complaint": dict(
        source="crm_activities", signal="complaint", touchpoint="crm:complaint", stage="purchase_intent",
        eligible="a CRM customer after an intent session without purchase that had a payment failure or a call friction",
        rate=0.30, give_up=0.5,
        detection="activity_type complaint",
    ),
}

# escalation calls after an intent session without purchase
P_ESCALATION_AFTER_PAYMENT_FAILURE = 0.40
P_ESCALATION_OTHER = 0.12
ESCALATION_QUEUES = ("sales", "general", "technical_support")
ESCALATION_QUEUE_WEIGHTS = (0.5, 0.3, 0.2)
P_CALLBACK = 0.08
P_CALL_RESCUE = 0.5            # a resolved escalation call without friction wins back a person who gave up
P_SINGLE_TRANSFER = 0.10
P_CASE_AFTER_CALL = 0.4
P_CASE_AFTER_PAYMENT_FAILURE = 0.08
P_REPEAT_CALL = 0.5            # after an unresolved call (abandoned / transferred / callback)
P_IVR_IDENTIFIED = 0.60
SUPPORT_CALLS_PER_DAY = 0.02   # background calls per CRM customer per day
ENTERPRISE_SUPPORT_MULT = 3.0
SUPPORT_QUEUES = ("technical_support", "billing", "general", "retention")
SUPPORT_QUEUE_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
P_SURVEY_NPS = 0.30
P_SURVEY_CES = 0.25

# -------------------------------------------------------------------- CRM

CUSTOMER_UPDATES_PER_DAY = 0.012
P_DUPLICATE_CUSTOMER_ROW = 0.015
P_DUPLICATE_ACTIVITY_ROW = 0.005
P_DUPLICATE_CALL_ROW = 0.005
STORE_ORDERS_PER_DAY = 0.01
BACKGROUND_CASES_PER_DAY = 0.004
P_RETURN = 0.05
CASE_CLOSE_MEAN_DAYS = 1.5
P_CSAT = 0.45

# ------------------------------------------------------------------ mess

P_DUPLICATE_EVENT = 0.01       # extra copies of a valid clickstream line
P_DUPLICATE_NEXT_FOLDER = 0.3  # of the copies: delivered in the next day's folder
P_TRIPLE = 0.1                 # of the duplicated lines: two extra copies
P_LATE_SESSION = 0.02          # offline device: session delivered 1-3 days later
P_VERY_LATE_SESSION = 0.002    # 5-10 days later (beyond the pipeline's 3-day window)
P_SKEWED_DEVICE = 0.03         # device clock off by 1-48 h
P_EPOCH_CLIENT_TS = 0.05       # client_ts as epoch milliseconds
P_OMIT_NULL = 0.5              # null fields: omitted (else written as null)
P_NULL_DEVICE_TYPE = 0.01
MAX_LINES_PER_PART = 250_000
GZIP_LEVEL = 6

SITE = "https://shop.example.com"
APP_VERSION = "4.12.0"
WEB_VERSION = "web-2026.1"
CONSENT_VALUES = ("granted", "granted", "granted", "denied", "partial")
LOYALTY_TIERS = ("", "bronze", "silver", "gold", "platinum")
