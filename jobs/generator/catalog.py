"""The fixed web shop: products, pages, campaigns, search queries, elements.

Independent of the run seed, so page paths and product ids mean the same thing in
every generated data set."""
from __future__ import annotations

import json

import numpy as np

from jobs.generator.params import SITE

CATEGORIES = ("laptops", "phones", "tablets", "accessories", "printers", "software")
CATEGORY_BASE_PRICE = (899.0, 649.0, 429.0, 24.0, 189.0, 79.0)
N_PRODUCTS = 120

_rng = np.random.default_rng(20260105)
PRODUCT_CATEGORY = _rng.integers(0, len(CATEGORIES), N_PRODUCTS)
PRODUCT_ID = [f"p{i:03d}" for i in range(1, N_PRODUCTS + 1)]
_price = np.asarray(CATEGORY_BASE_PRICE)[PRODUCT_CATEGORY] * _rng.uniform(0.6, 1.6, N_PRODUCTS)
PRODUCT_PRICE_CENTS = (np.round(_price) * 100 - 1).astype(np.int64)          # 899.00 -> 898.99 style
PRODUCT_POPULARITY = _rng.zipf(1.6, N_PRODUCTS).clip(1, 50).astype(float)
PRODUCT_POPULARITY /= PRODUCT_POPULARITY.sum()

BLOG_SLUGS = ("best-laptops-2026", "phone-buying-guide", "printer-ink-tips", "remote-work-setup", "tablet-vs-laptop",
              "small-business-it", "security-basics", "cloud-backup", "gaming-gear", "student-deals")

# slug, utm_source, utm_medium, utm_campaign, external referrer ('' = none)
CAMPAIGNS = (
    ("winter-sale", "google", "cpc", "winter_sale_2026", "https://www.google.com/"),
    ("new-year-deals", "facebook", "social", "new_year_deals", "https://www.facebook.com/"),
    ("newsletter-jan", "newsletter", "email", "jan_newsletter", ""),
    ("smb-launch", "linkedin", "social", "smb_launch", "https://www.linkedin.com/"),
    ("laptops", "bing", "cpc", "laptops_generic", "https://www.bing.com/"),
    ("spring-preview", "instagram", "social", "spring_preview", "https://www.instagram.com/"),
    ("enterprise-demo", "google", "display", "enterprise_demo", "https://www.google.com/"),
    ("partner-picks", "partner_blog", "affiliate", "partner_q1", "https://blog.partner.example/"),
)
CAMPAIGN_WEIGHTS = (0.25, 0.18, 0.12, 0.08, 0.12, 0.08, 0.07, 0.10)
ORGANIC_REFERRERS = ("", "https://www.google.com/", "https://duckduckgo.com/", "https://www.bing.com/")
ORGANIC_REFERRER_WEIGHTS = (0.45, 0.35, 0.1, 0.1)

SEARCH_QUERIES = ("laptop", "usb c cable", "wireless mouse", "printer ink", "phone case", "tablet 11 inch",
                  "antivirus", "office suite", "gaming laptop", "monitor stand", "laser printer", "headphones",
                  "charger", "keyboard", "backup software", "smartphone 5g")

FIXED_PATHS = ("/", "/about", "/pricing", "/compare", "/search", "/cart", "/checkout", "/checkout/payment",
               "/checkout/confirmation", "/signup", "/login", "/account", "/account/orders", "/help/shipping",
               "/help/payment", "/help/returns", "/help/warranty", "/help/contact")

ELEMENTS = ("#hero-cta", "#nav-products", "#cookie-accept", "#filter-price", "#product-gallery", "#sort-select",
            "#add-to-cart", "#apply-coupon", "#checkout", "#pay-now", "#signup-submit", "#track-order",
            "#login-submit", "#newsletter-signup", "#chat-open")


def el(name: str) -> int:
    return ELEMENTS.index(name)


class Site:
    """Path and URL tables; every page an event can show has a code here."""

    def __init__(self):
        paths = list(FIXED_PATHS)
        self.fixed = {p: i for i, p in enumerate(paths)}
        self.blog0 = len(paths)
        paths += [f"/blog/{s}" for s in BLOG_SLUGS]
        self.cat0 = len(paths)
        paths += [f"/products/{c}" for c in CATEGORIES]
        self.prod0 = len(paths)
        paths += [f"/products/{CATEGORIES[PRODUCT_CATEGORY[i]]}/{PRODUCT_ID[i]}" for i in range(N_PRODUCTS)]
        self.rev0 = len(paths)
        paths += [f"/products/{CATEGORIES[PRODUCT_CATEGORY[i]]}/{PRODUCT_ID[i]}/reviews" for i in range(N_PRODUCTS)]
        self.lp0 = len(paths)
        paths += [f"/lp/{c[0]}" for c in CAMPAIGNS]
        self.paths = paths
        urls = [SITE + p for p in paths]
        self.camp_url0 = len(urls)
        urls += [f"{SITE}/lp/{c[0]}?utm_source={c[1]}&utm_medium={c[2]}&utm_campaign={c[3]}" for c in CAMPAIGNS]
        self.search_url0 = len(urls)
        urls += [f"{SITE}/search?q={q.replace(' ', '+')}" for q in SEARCH_QUERIES]
        self.ext_ref0 = len(urls)
        externals = sorted({c[4] for c in CAMPAIGNS if c[4]} | {r for r in ORGANIC_REFERRERS if r})
        urls += externals
        self.externals = {u: self.ext_ref0 + i for i, u in enumerate(externals)}
        self.urls = urls
        # url code of each path code (plain url)
        self.path_url = np.arange(len(paths))

    def p(self, path: str) -> int:
        return self.fixed[path]


def price_text(cents: int) -> str:
    return json.dumps(cents / 100)
