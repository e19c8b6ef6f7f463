"""Ground truth: persons, identities, per-line event truth, funnel, friction, malformed list, summary."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.generator import params as P
from jobs.generator.clickstream import ETYPES, FRICTION_NAMES, Delivery, Events
from jobs.generator.csvsrc import CsvDelivery
from jobs.generator.malformed import CLICKSTREAM_KINDS, CSV_KINDS, LATE_KIND
from jobs.generator.population import Population
from jobs.generator.simulate import funnel_tables
from jobs.generator.util import MS_DAY, csv_lines, day_text, e164

def _write_csv(path: Path, header: list[str], cols: list[np.ndarray]) -> None:
    lines = csv_lines([np.asarray(c, dtype=object) for c in cols]) if len(cols[0]) else np.zeros(0, object)
    text = ",".join(header) + "\n" + "".join(x + "\n" for x in lines.tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write((json.dumps(obj, indent=2, sort_keys=False) + "\n").encode("utf-8"))


def _day_str(days: np.ndarray) -> np.ndarray:
    return day_text(np.asarray(days, dtype=np.int64) * MS_DAY).astype(object)


# ============================================================================ per-line truth


def _cat(table: list[str], codes: np.ndarray, none_code: int = -1) -> pd.Categorical:
    """Categorical of table[codes] (codes == none_code -> ''), without building Python strings per row."""
    cats = list(dict.fromkeys(list(table) + [""]))
    pos = {c: i for i, c in enumerate(cats)}
    lut = np.asarray([pos[t] for t in table] + [pos[""]], dtype=np.int64)
    codes = np.where(np.asarray(codes) == none_code, len(table), codes)
    return pd.Categorical.from_codes(lut[codes], categories=cats)


def clickstream_lines(ev: Events, d: Delivery, pop: Population, files: list, out: Path) -> pd.DataFrame:
    c = ev.cols
    n = len(d.ev)
    names = [str(path.relative_to(out)).replace("\\", "/") for path, a, z in files]
    file_code = np.repeat(np.arange(len(files)), [z - a for _, a, z in files])
    e = d.ev
    mk = d.malformed_kind[e]
    beyond = d.beyond[e]
    k = len(CLICKSTREAM_KINDS)
    code = np.where(mk >= 0, mk, np.where(beyond, k, k + 1))
    reasons = [x[1] for x in CLICKSTREAM_KINDS] + [LATE_KIND[1]]
    kinds = [x[0] for x in CLICKSTREAM_KINDS] + [LATE_KIND[0]]
    return pd.DataFrame({
        "source": pd.Categorical.from_codes(np.zeros(n, np.int8), categories=["clickstream"]),
        "source_event_id": None,                 # filled by the caller (ids are made at write time)
        "event_index": e,
        "person": c["person"][e],
        "event_time": c["t_true"][e],
        "expected_event_at": d.expected_ms[e],
        "received_at": d.received_ms[e],
        "arrival_day": d.folder_day,
        "file": pd.Categorical.from_codes(file_code, categories=names),
        "line_number": d.line_no,
        "is_duplicate_delivery": d.copy > 0,
        "is_late": c["late_class"][e] > 0,
        "is_late_beyond_window": beyond,
        "skew_hours": pop.dev_skew_ms[c["dev"][e]] / 3_600_000.0,
        "is_malformed": mk >= 0,
        "expected_reason": _cat(reasons, code, k + 1),
        "malformed_kind": _cat(kinds, code, k + 1),
        "event_type": _cat(list(ETYPES), c["etype"][e]),
        "stage": _cat(list(P.STAGES), c["stage"][e]),
        "journey": c["journey"][e],
        "session": c["sess"][e],
        "friction": _cat(list(FRICTION_NAMES), c["friction"][e]),
        "device_type": _cat(list(P.DEVICE_TYPES), pop.dev_type[c["dev"][e]]),
    })


def concat_lines(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-source line frames, keeping string columns categorical."""
    from pandas.api.types import union_categoricals
    out = {}
    for col in frames[0].columns:
        parts = [f[col] for f in frames]
        if any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            parts = [p if isinstance(p.dtype, pd.CategoricalDtype) else pd.Categorical(p.astype(object))
                     for p in parts]
            out[col] = union_categoricals(parts, ignore_order=True)
        else:
            out[col] = np.concatenate([p.to_numpy() for p in parts])
    return pd.DataFrame(out)


def csv_lines_truth(source: str, d: CsvDelivery, source_event_id: np.ndarray, person: np.ndarray,
                    event_ms: np.ndarray, event_type: np.ndarray, friction: np.ndarray) -> pd.DataFrame:
    r = d.row
    kinds = CSV_KINDS[source]
    mk = d.kind[r]
    reason = np.where((mk >= 0) & (d.copy == 0), np.asarray([k[1] for k in kinds] + [""], dtype=object)[mk], "")
    kind = np.where((mk >= 0) & (d.copy == 0), np.asarray([k[0] for k in kinds] + [""], dtype=object)[mk], "")
    files = np.asarray([d.files[x] for x in d.folder_day.tolist()], dtype=object)
    return pd.DataFrame({
        "source": source,
        "source_event_id": source_event_id[r],
        "event_index": r,
        "person": person[r],
        "event_time": event_ms[r],
        "expected_event_at": event_ms[r],
        "received_at": np.full(len(r), -1, np.int64),
        "arrival_day": d.folder_day,
        "file": files,
        "line_number": d.line_no,
        "is_duplicate_delivery": d.copy > 0,
        "is_late": np.zeros(len(r), bool),
        "is_late_beyond_window": np.zeros(len(r), bool),
        "skew_hours": np.zeros(len(r)),
        "is_malformed": reason != "",
        "expected_reason": reason.astype(object),
        "malformed_kind": kind.astype(object),
        "event_type": event_type[r],
        "stage": "",
        "journey": -1,
        "session": -1,
        "friction": friction[r],
        "device_type": "",
    })


def attach_journeys(lines: pd.DataFrame, click: pd.DataFrame) -> pd.DataFrame:
    """Journey (purchases before) and stage (of the latest web event before) for CRM and call rows."""
    human = click[(click["stage"] != "") & ~click["is_duplicate_delivery"]]
    shift = np.int64(1) << np.int64(42)
    buys = human[human["event_type"] == "purchase"]
    bkey = np.sort(buys["person"].to_numpy(np.int64) * shift + buys["event_time"].to_numpy(np.int64))
    key = lines["person"].to_numpy(np.int64) * shift + lines["event_time"].to_numpy(np.int64)
    lo = np.searchsorted(bkey, lines["person"].to_numpy(np.int64) * shift)
    lines["journey"] = np.searchsorted(bkey, key) - lo
    hk = human["person"].to_numpy(np.int64) * shift + human["event_time"].to_numpy(np.int64)
    order = np.argsort(hk, kind="stable")
    hk = hk[order]
    hstage = human["stage"].to_numpy(object)[order]
    pos = np.searchsorted(hk, key, side="right") - 1
    same = (pos >= 0) & (hk[np.maximum(pos, 0)] // shift == lines["person"].to_numpy(np.int64))
    lines["stage"] = np.where(same, hstage[np.maximum(pos, 0)], "")
    return lines


def write_events_truth(path: Path, df: pd.DataFrame, pop: Population) -> None:
    ts = pa.timestamp("ms", tz="UTC")

    def tcol(v):
        v = np.asarray(v, dtype=np.int64)
        return pa.array(v, type=pa.int64(), mask=v < 0).cast(ts)

    def dict_col(v):
        """Categorical -> dictionary array; the '' category becomes null."""
        if not isinstance(v.dtype, pd.CategoricalDtype):
            v = pd.Categorical(np.asarray(v, dtype=object))
        v = v.array if hasattr(v, "array") else v
        cats = list(v.categories)
        codes = np.asarray(v.codes, dtype=np.int32)
        mask = codes < 0
        if "" in cats:
            mask |= codes == cats.index("")
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=mask), pa.array(cats, type=pa.string()))

    table = pa.table({
        "source": dict_col(df["source"]),
        "source_event_id": pa.array(df["source_event_id"].to_numpy(object), type=pa.string()),
        "person_id": dict_col(pd.Categorical.from_codes(df["person"].to_numpy(), categories=list(pop.person_id))),
        "is_bot": pa.array(pop.is_bot[df["person"].to_numpy()]),
        "event_time": tcol(df["event_time"]),
        "expected_event_at": tcol(df["expected_event_at"]),
        "received_at": tcol(df["received_at"]),
        "arrival_date": pa.array(df["arrival_day"].to_numpy(np.int32), type=pa.int32()).cast(pa.date32()),
        "file": dict_col(df["file"]),
        "line_number": pa.array(df["line_number"].to_numpy(np.int64)),
        "is_duplicate_delivery": pa.array(df["is_duplicate_delivery"].to_numpy(bool)),
        "is_late": pa.array(df["is_late"].to_numpy(bool)),
        "is_late_beyond_window": pa.array(df["is_late_beyond_window"].to_numpy(bool)),
        "skew_hours": pa.array(df["skew_hours"].to_numpy(float)),
        "is_malformed": pa.array(df["is_malformed"].to_numpy(bool)),
        "expected_reason": dict_col(df["expected_reason"]),
        "malformed_kind": dict_col(df["malformed_kind"]),
        "event_type": dict_col(df["event_type"]),
        "stage": dict_col(df["stage"]),
        "journey": pa.array(df["journey"].to_numpy(np.int64)),
        "session": pa.array(df["session"].to_numpy(np.int64)),
        "friction": dict_col(df["friction"]),
        "device_type": dict_col(df["device_type"]),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)


# ============================================================================ persons and identities


def write_persons(path: Path, pop: Population, created: np.ndarray, end_ms: int) -> None:
    is_cust = (created >= 0) & (created < end_ms - 1000)
    zones = np.asarray([r[1] for r in P.REGIONS], dtype=object)
    regions = np.asarray([r[0] for r in P.REGIONS], dtype=object)
    _write_csv(path, ["person_id", "segment", "region", "device", "time_zone", "customer_id", "user_id", "email",
                      "phone", "is_bot", "crm_phone", "company_id"], [
        pop.person_id,
        np.asarray(P.SEGMENTS, dtype=object)[pop.segment],
        regions[pop.region],
        np.asarray(P.DEVICE_TYPES, dtype=object)[pop.device_pref],
        zones[pop.region],
        np.where(is_cust, pop.customer_id, ""),
        pop.user_id,
        np.where(pop.is_bot, "", pop.email),
        np.where(pop.is_bot, "", e164(pop.phone)),
        np.where(pop.is_bot, "true", "false"),
        np.where(is_cust & ~pop.no_phone, e164(pop.crm_phone), ""),
        np.where(pop.company >= 0, np.char.add("CO", pop.company.astype("U8")).astype(object), ""),
    ])


def identity_rows(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """parts: frames with id_type, id_value (raw), id_normalized, person, order (first-written order)."""
    df = pd.concat(parts, ignore_index=True)
    df = df[df["id_normalized"] != ""]
    df = df.sort_values(["id_type", "id_normalized", "order"], kind="stable")
    first_raw = df.groupby(["id_type", "id_normalized"], sort=False)["id_value"].transform("first")
    df = df.assign(id_value=first_raw)
    n_persons = df.groupby(["id_type", "id_normalized"], sort=False)["person"].transform("nunique")
    df = df.assign(is_shared=n_persons > 1)
    df = df.drop_duplicates(["id_type", "id_normalized", "person"])
    return df.sort_values(["id_type", "id_normalized", "person"], kind="stable")


def write_identities(path: Path, ids: pd.DataFrame, pop: Population) -> None:
    _write_csv(path, ["id_type", "id_value", "id_normalized", "person_id", "is_shared"], [
        ids["id_type"].to_numpy(object), ids["id_value"].to_numpy(object), ids["id_normalized"].to_numpy(object),
        pop.person_id[ids["person"].to_numpy()], np.where(ids["is_shared"].to_numpy(), "true", "false")])


# ============================================================================ funnel and friction


def _rate(num, den):
    return round(float(num) / float(den), 6) if den else None


def journeys_table(click: pd.DataFrame, pop: Population) -> pd.DataFrame:
    """One row per true journey (person, journey) as the pipeline can see it (valid, in-window lines)."""
    vis = (click["stage"] != "").to_numpy() & ~click["is_duplicate_delivery"].to_numpy() \
        & ~click["is_malformed"].to_numpy() & ~click["is_late_beyond_window"].to_numpy()
    person = click["person"].to_numpy()[vis].astype(np.int64)
    journey = click["journey"].to_numpy()[vis].astype(np.int64)
    stage_names = list(click["stage"].cat.categories)
    code = np.asarray(click["stage"].cat.codes)[vis]
    stage_idx = np.asarray([P.STAGES.index(x) if x in P.STAGES else 7 for x in stage_names])[code]
    key = person * (1 << 24) + journey
    uk, inv = np.unique(key, return_inverse=True)
    bits = np.zeros(len(uk), dtype=np.int64)
    np.bitwise_or.at(bits, inv, np.int64(1) << stage_idx)
    start = np.full(len(uk), np.iinfo(np.int64).max)
    np.minimum.at(start, inv, click["event_time"].to_numpy()[vis])
    j = pd.DataFrame({"person": uk >> 24, "journey": uk & ((1 << 24) - 1), "start": start})
    for i, name in enumerate(P.STAGES):
        j[f"reached_{name}"] = (bits >> i) & 1 == 1
    j["converted"] = j["reached_purchase"]
    j["segment"] = np.asarray(P.SEGMENTS, dtype=object)[pop.segment[j["person"].to_numpy()]]
    j["device"] = np.asarray(P.DEVICE_TYPES, dtype=object)[pop.device_pref[j["person"].to_numpy()]]
    return j


def funnel_json(j: pd.DataFrame) -> dict:
    adv, ab = funnel_tables()
    model = {}
    for si, seg in enumerate(P.SEGMENTS):
        model[seg] = {}
        for di, dev in enumerate(P.DEVICE_TYPES):
            stages = {}
            for k, name in enumerate(("awareness", "consideration", "purchase_intent")):
                a, x = float(adv[si, di, k]), float(ab[si, di, k])
                stages[name] = {"advance_per_session": a, "abandon_per_session": x,
                                "eventual_progression_without_friction": round(a / (a + x), 6)}
            model[seg][dev] = stages

    def realized(df):
        n = len(df)
        out = {"journeys": int(n)}
        reached = {name: int(df[f"reached_{name}"].sum()) for name in P.STAGES}
        out["reached"] = reached
        # closed funnel: reached every earlier stage of the purchase path too
        closed = np.ones(n, bool)
        closed_counts = {}
        for name in P.STAGES[:4]:
            closed &= df[f"reached_{name}"].to_numpy()
            closed_counts[name] = int(closed.sum())
        out["closed_funnel"] = closed_counts
        steps = {}
        for a, b in zip(P.STAGES[:3], P.STAGES[1:4]):
            both = int((df[f"reached_{a}"] & df[f"reached_{b}"]).sum())
            steps[f"{a}->{b}"] = _rate(both, reached[a])
        out["step_conversion"] = steps
        out["conversion_rate"] = _rate(int(df["converted"].sum()), n)
        return out

    by = {}
    for seg in P.SEGMENTS:
        by[seg] = {}
        for dev in P.DEVICE_TYPES:
            by[seg][dev] = realized(j[(j["segment"] == seg) & (j["device"] == dev)])
    return {
        "stages": list(P.STAGES),
        "definitions": {
            "journey": "a person's events up to and including a purchase; the next event starts the next journey "
                       "(ground truth ignores the 30-day timeout; periods shorter than 30 days make them equal)",
            "device": "the person's preferred device (device of the first device they own)",
            "stage_of_event": "awareness: /, /lp/*, /blog/*, /about; consideration: /products/*, /search, /compare, "
                              "/pricing, /signup, /help/shipping; purchase_intent: add_to_cart, /cart, /checkout*, "
                              "/help/payment, payment_failed; purchase: event_type purchase; use_loyalty: /account*, "
                              "/help/returns, /help/warranty, /help/contact; login events take the stage of the event "
                              "before them",
            "realized": "counted on the lines the pipeline accepts (no malformed, no late-beyond-window, "
                        "duplicates once); bots excluded",
        },
        "model": {
            "per_session_probabilities": model,
            "continue_to_next_stage_in_same_session": P.P_CONTINUE_IN_SESSION,
            "repurchase_cycle_per_loyalty_session": P.P_REPURCHASE_CYCLE,
            "friction_give_up_probability": {k: v["give_up"] for k, v in P.FRICTIONS.items()},
        },
        "realized": {"overall": realized(j), "by_segment_device": by},
    }


def friction_json(j: pd.DataFrame, click: pd.DataFrame, sessions: dict, calls_df: pd.DataFrame,
                  acts_df: pd.DataFrame, sim_calls: dict) -> dict:
    key = ["person", "journey"]
    vis = click[~click["is_duplicate_delivery"] & ~click["is_malformed"] & ~click["is_late_beyond_window"]]
    # one occurrence per session block (a rage-click burst or a form-error loop counts once)
    web = vis.loc[vis["friction"] != "", key + ["session", "friction"]].astype({"friction": object})
    occ_frames = [web.drop_duplicates(["session", "friction"])[key + ["friction"]]]
    cf = calls_df[~calls_df["is_duplicate_delivery"] & ~calls_df["is_malformed"] & (calls_df["friction"] != "")]
    if len(cf):
        exploded = cf.assign(friction=cf["friction"].str.split("+")).explode("friction")
        occ_frames.append(exploded[key + ["friction"]])
    af = acts_df[~acts_df["is_duplicate_delivery"] & ~acts_df["is_malformed"] & (acts_df["friction"] != "")
                 & (acts_df["event_type"] == "complaint_opened")]
    occ_frames.append(af[key + ["friction"]])
    occ = pd.concat(occ_frames, ignore_index=True)
    # a rage click / loop is one occurrence per session block, not per event
    counts = occ.groupby("friction").size()
    jt = j.set_index(key)

    # controlled comparison: journeys by whether friction hit their first eligible occurrence
    S = pd.DataFrame({"person": sessions["person"], "journey": sessions["journey"], "j": sessions["j"]})
    elig = {
        "payment_failed": (sessions["payment"], sessions["payfail"]),
        "rage_click_coupon": (sessions["has2"], sessions["rage_k"] > 0),
        "signup_form_error_loop": (sessions["signup_kind"] > 0, sessions["signup_kind"] >= 3),
        "search_error_page": (sessions["has1"] & (sessions["signup_kind"] != 4), sessions["errp"]),
        "complaint": (sessions["complaint_eligible"], sessions["complaint"]),
    }
    if sim_calls:
        C = pd.DataFrame({"person": sim_calls["person"], "session": sim_calls["session"]})
        C["journey"] = sessions["journey"][C["session"].to_numpy()]
        C["j"] = sessions["j"][C["session"].to_numpy()]
    out = {}
    for name, spec in P.FRICTIONS.items():
        stage = spec["stage"]
        reached = jt[jt[f"reached_{stage}"]]
        hit = occ[occ["friction"] == name][key].drop_duplicates()
        hit_idx = pd.MultiIndex.from_frame(hit) if len(hit) else pd.MultiIndex.from_tuples([], names=key)
        affected = reached.index.isin(hit_idx)
        n_with, n_without = int(affected.sum()), int((~affected).sum())
        conv = reached["converted"].to_numpy()
        with_rate = _rate(conv[affected].sum(), n_with)
        without_rate = _rate(conv[~affected].sum(), n_without)
        lost = None
        if with_rate is not None and without_rate is not None:
            lost = round(n_with * (without_rate - with_rate), 3)
        # controlled
        if name in elig:
            e, inj = elig[name]
            df = S[e].assign(inj=np.asarray(inj)[e])
        elif sim_calls:
            inj = {"long_queue_wait": sim_calls["long_wait"], "abandoned_call": sim_calls["abandoned"],
                   "multi_transfer": sim_calls["multi_transfer"]}[name]
            df = C.assign(inj=inj)
            if name == "multi_transfer":
                df = df[~sim_calls["abandoned"]]
        else:
            df = S.iloc[:0].assign(inj=np.zeros(0, bool))
        first = df.sort_values(["person", "journey", "j"], kind="stable").drop_duplicates(key)
        first = first.join(jt["converted"], on=key, how="inner")
        ctl_with = first[first["inj"]]
        ctl_without = first[~first["inj"]]
        rate = spec["rate"]
        out[name] = {
            "source": spec["source"],
            "signal": spec["signal"],
            "touchpoint": spec["touchpoint"],
            **({"element_id": spec["element_id"]} if "element_id" in spec else {}),
            **({"event_type": spec["event_type"]} if "event_type" in spec else {}),
            "stage": stage,
            "detection": spec["detection"],
            "eligible": spec["eligible"],
            "injection_rate": rate,
            "give_up_probability": spec["give_up"],
            "occurrences": int(counts.get(name, 0)),
            "journeys_reaching_stage": int(len(reached)),
            "journeys_affected": n_with,
            "persons_affected": int(hit["person"].nunique()) if len(hit) else 0,
            "true_conversion_with": with_rate,
            "true_conversion_without": without_rate,
            "estimated_lost_conversions": lost,
            "controlled": {
                "unit": "journeys, split by whether the friction hit their first eligible occurrence "
                        "(random assignment, so the difference is causal)",
                "journeys_with": int(len(ctl_with)),
                "journeys_without": int(len(ctl_without)),
                "conversion_with": _rate(ctl_with["converted"].sum(), len(ctl_with)),
                "conversion_without": _rate(ctl_without["converted"].sum(), len(ctl_without)),
            },
        }
    return {
        "definitions": {
            "true_conversion_with/without": "share of journeys that reached the friction's stage and converted, "
                                            "with at least one occurrence of the friction vs none (the pipeline's "
                                            "comparison); journeys as in funnel.json",
            "estimated_lost_conversions": "journeys_affected * (true_conversion_without - true_conversion_with)",
            "give_up_probability": "chance that a person who meets the friction abandons the journey because of it",
        },
        "frictions": out,
    }


# ============================================================================ malformed list and summary


def malformed_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    df = pd.concat(parts, ignore_index=True)
    df = df[df["expected_reason"] != ""]
    df = df.assign(arrival_date=_day_str(df["arrival_day"].to_numpy()))
    df = df.sort_values(["source", "arrival_date", "file", "line_number"], kind="stable")
    return df[["source", "arrival_date", "file", "line_number", "expected_reason", "malformed_kind"]]


def write_malformed(path: Path, m: pd.DataFrame) -> None:
    _write_csv(path, ["source", "arrival_date", "file", "line_number", "expected_reason", "kind"], [
        m["source"].to_numpy(object), m["arrival_date"].to_numpy(object), m["file"].to_numpy(object),
        m["line_number"].to_numpy(np.int64).astype("U12").astype(object), m["expected_reason"].to_numpy(object),
        m["malformed_kind"].to_numpy(object)])


def _reason_counts(reasons: np.ndarray) -> dict:
    reasons = reasons[reasons != ""]
    u, k = np.unique(reasons.astype(str), return_counts=True)
    return {str(a): int(b) for a, b in zip(u.tolist(), k.tolist())}


def source_summary(df: pd.DataFrame, dup_rule: str) -> dict:
    reason = np.asarray(df["expected_reason"].astype(object).to_numpy(), dtype=object)
    dup = df["is_duplicate_delivery"].to_numpy()
    late = df["is_late"].to_numpy()
    day = df["arrival_day"].to_numpy()
    out = {"lines": int(len(df)), "duplicates": int(dup.sum()), "malformed": _reason_counts(reason),
           "duplicate_rule": dup_rule, "by_arrival_date": {}}
    is_click = len(df) and str(df["source"].iloc[0]) == "clickstream"
    for d in np.unique(day).tolist():
        m = day == d
        entry = {"lines": int(m.sum()), "duplicates": int(dup[m].sum()), "malformed": _reason_counts(reason[m])}
        if is_click:
            entry["late"] = int((late[m] & ~dup[m]).sum())
        out["by_arrival_date"][str(_day_str(np.asarray([d]))[0])] = entry
    return out
