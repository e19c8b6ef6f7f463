"""How well identity resolution matches the generator's ground truth, pair by pair.

Scored ids: every id the truth knows that the pipeline mapped, except ids the truth marks
shared (a household device, a switchboard phone): those belong to several persons, so
"same customer" has no single right answer for them. Two scored ids are *observably linked*
when a chain of links seen in the data (`_state/identity_links`) joins them through ids of
one person; ids of one person that the data never connects cannot be expected to merge.

* precision: of the pairs the pipeline puts in one customer, the share that are one person;
* recall: of the observably linked pairs, the share the pipeline puts in one customer.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

#: ground-truth id type -> identity_map id_type
TRUTH_TYPES = {"anonymous_id": "anonymous_id", "user_id": "user_id", "customer_id": "customer_id",
               "email": "email_hash", "phone": "phone_hash"}
#: node prefix in identity links -> identity_map id_type (jobs/identity/graph.py)
NODE_TYPES = {"a": "anonymous_id", "u": "user_id", "c": "customer_id", "e": "email_hash", "p": "phone_hash"}


def truth_ids(raw: Path, pii_secret: bytes) -> dict[tuple[str, str], tuple[str, bool]]:
    """(id_type, id_value as the pipeline writes it) -> (person_id, is_shared)."""
    out: dict[tuple[str, str], tuple[str, bool]] = {}
    with open(Path(raw) / "ground_truth" / "identities.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            value = r["id_normalized"]
            if r["id_type"] in ("email", "phone"):
                value = hmac.new(pii_secret, value.encode(), hashlib.sha256).hexdigest()
            key = (TRUTH_TYPES[r["id_type"]], value)
            shared = r["is_shared"] == "true" or (key in out and out[key][0] != r["person_id"])
            out[key] = (r["person_id"], shared)
    return out


def _pairs(groups: Iterable[set]) -> set[tuple]:
    pairs = set()
    for members in groups:
        m = sorted(members)
        pairs.update((a, b) for i, a in enumerate(m) for b in m[i + 1:])
    return pairs


def score(truth: dict[tuple[str, str], tuple[str, bool]], identity_map: Iterable[tuple[str, str, str]],
          links: Iterable[tuple[str, str]]) -> dict:
    """identity_map: (id_type, id_value, customer_key) rows; links: (a, b) node pairs."""
    imap = {(t, v): k for t, v, k in identity_map}
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a_node, b_node in links:
        a, b = ((NODE_TYPES[n[0]], n[2:]) for n in (a_node, b_node))
        ta, tb = truth.get(a), truth.get(b)
        if ta and tb and ta[0] == tb[0] and not ta[1] and not tb[1]:
            parent[find(a)] = find(b)
    universe = [k for k, (_, shared) in truth.items() if not shared and k in imap]
    truth_groups, predicted = defaultdict(set), defaultdict(set)
    for k in universe:
        truth_groups[find(k)].add(k)
        predicted[imap[k]].add(k)
    linked, said = _pairs(truth_groups.values()), _pairs(predicted.values())
    same_person = sum(1 for a, b in said if truth[a][0] == truth[b][0])
    sizes = Counter(len(m) for m in predicted.values())
    return {"ids_scored": len(universe), "ids_unmapped": sum(1 for k in truth if k not in imap),
            "predicted_pairs": len(said), "observable_pairs": len(linked),
            "precision": same_person / len(said) if said else 1.0,
            "recall": len(linked & said) / len(linked) if linked else 1.0,
            "customers_by_scored_ids": dict(sorted(sizes.items()))}
