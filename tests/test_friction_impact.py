"""Friction points: affected vs comparable journeys, the interval, lost conversions and rank,
computed by hand on tiny cohorts; and the output suites of friction_points and friction_occurrences."""
from __future__ import annotations

from datetime import date, timedelta
from statistics import NormalDist

import pytest

from jobs.analytics.friction import friction_points
from jobs.contracts import table_contract
from tests.friction_frames import DAY, T0, journeys_frame
from output_suite import check_output

INTENT = ["awareness", "consideration", "purchase_intent"]
Z95 = NormalDist().inv_cdf(0.975)


def cohort(prefix: str, n: int, converted: int, stages=INTENT, start: date = DAY, segment: str | None = None):
    """n journeys without events, the first `converted` of them converted: (extra, status, start, segment)."""
    ids = [f"{prefix}{i:03d}" for i in range(n)]
    return ({j: list(stages) + (["purchase"] if i < converted else []) for i, j in enumerate(ids)},
            {j: "converted" if i < converted else "dropped" for i, j in enumerate(ids)},
            {j: start for j in ids}, {j: segment for j in ids})


def journeys(spark, *cohorts):
    extra, status, start, segment = {}, {}, {}, {}
    for e, s, d, g in cohorts:
        extra.update(e), status.update(s), start.update(d), segment.update(g)
    return journeys_frame(spark, [], status=status, start_date=start, segment=segment, extra=extra)


def occ(journey: str, n: int = 1, signal: str = "rage_click", touchpoint: str = "web:/cart",
        stage: str = "purchase_intent", start: date = DAY, customer: str | None = None) -> list[dict]:
    return [{"journey_id": journey, "customer_key": customer or f"c-{journey}", "signal": signal,
             "touchpoint": touchpoint, "stage": stage, "channel": "web", "session_id": f"{journey}-s1",
             "event_id": f"{journey}-{signal}-{touchpoint}-{k}", "occurred_at": T0 + timedelta(seconds=k),
             "detail": "d", "journey_start_date": start} for k in range(n)]


def occurrences(spark, rows):
    return spark.createDataFrame(rows, table_contract("friction_occurrences").spark_schema())


def points(spark, js, occ_rows, breakdown="all"):
    out = friction_points(js, occurrences(spark, occ_rows)).where(f"breakdown = '{breakdown}'")
    return sorted(out.collect(), key=lambda r: (r.journey_start_date, r.breakdown_value, r["rank"]))


@pytest.fixture(scope="module")
def example(spark):
    """10 affected journeys (2 converted) and 40 comparable ones (20 converted), plus 5 that
    never reached purchase_intent; the affected ones have 1 or 2 occurrences."""
    js = journeys(spark, cohort("a", 10, 2), cohort("u", 40, 20), cohort("n", 5, 0, stages=["awareness"]))
    rows = [r for i in range(10) for r in occ(f"a{i:03d}", n=1 + (i < 3))]
    return js, rows


def test_hand_computed_example(spark, example):
    js, rows = example
    [r] = points(spark, js, rows)
    assert (r.touchpoint, r.stage, r.signal, r.breakdown_value) == ("web:/cart", "purchase_intent", "rage_click", "all")
    assert (r.occurrences, r.journeys_affected, r.customers_affected, r.journeys_affected_converted) == (13, 10, 10, 2)
    # the 5 journeys that never reached purchase_intent are not comparable
    assert (r.journeys_reached_stage, r.journeys_unaffected, r.journeys_unaffected_converted) == (50, 40, 20)
    assert r.affected_conversion_rate == pytest.approx(0.2)
    assert r.unaffected_conversion_rate == pytest.approx(0.5)
    assert r.conversion_rate_difference == pytest.approx(0.3)
    half = Z95 * (0.2 * 0.8 / 10 + 0.5 * 0.5 / 40) ** 0.5          # 1.96 * 0.14916 = 0.29235
    assert (r.difference_ci_low, r.difference_ci_high) == (pytest.approx(0.3 - half), pytest.approx(0.3 + half))
    assert r.difference_ci_low == pytest.approx(0.00765, abs=1e-5)
    assert r.is_significant is True
    assert r.lost_conversions == pytest.approx(3.0)
    assert r["rank"] == 1


def test_interval_including_zero_is_not_significant(spark):
    js = journeys(spark, cohort("a", 10, 4), cohort("u", 40, 20))
    [r] = points(spark, js, [r for i in range(10) for r in occ(f"a{i:03d}")])
    assert r.conversion_rate_difference == pytest.approx(0.1)
    assert r.difference_ci_low < 0 < r.difference_ci_high
    assert r.is_significant is False
    assert r.lost_conversions == pytest.approx(1.0)


def test_confidence_sets_the_interval(spark, example):
    js, rows = example
    r = friction_points(js, occurrences(spark, rows), confidence=0.99).where("breakdown = 'all'").first()
    half = NormalDist().inv_cdf(0.995) * (0.2 * 0.8 / 10 + 0.5 * 0.5 / 40) ** 0.5
    assert r.difference_ci_high == pytest.approx(0.3 + half)
    assert r.is_significant is False  # 0.3 - 0.384 < 0
    with pytest.raises(ValueError):
        friction_points(js, occurrences(spark, rows), confidence=1.5)


def test_point_without_stage_compares_with_every_journey_of_the_day(spark, example):
    js, _ = example
    rows = [r for i in range(10) for r in occ(f"a{i:03d}", signal="long_queue_wait", touchpoint="call:payments",
                                              stage="(none)")]
    [r] = points(spark, js, rows)
    assert (r.stage, r.journeys_reached_stage, r.journeys_unaffected, r.journeys_unaffected_converted) == \
        ("(none)", 55, 45, 20)


def test_helping_friction_loses_nothing_and_ranks_by_lost_conversions_with_tie_breaks(spark):
    js = journeys(spark, cohort("a", 4, 3), cohort("b", 4, 0), cohort("u", 12, 6))
    rows = ([r for i in range(4) for r in occ(f"a{i:03d}", signal="error_event")]            # converts more
            + [r for i in range(4) for r in occ(f"b{i:03d}", signal="loop")]
            + [r for i in range(4) for r in occ(f"b{i:03d}", signal="dead_end")]              # the same: tie
            + [r for i in range(2) for r in occ(f"b{i:03d}", signal="loop", touchpoint="web:/a")])
    got = [(r.signal, r.touchpoint, r.lost_conversions, r["rank"]) for r in points(spark, js, rows)]
    # b's 4 journeys convert 0 of 4, the 16 others 9: 4 x 9/16 = 2.25; on web:/a, 2 x 9/18 = 1
    assert got == [("dead_end", "web:/cart", pytest.approx(2.25), 1), ("loop", "web:/cart", pytest.approx(2.25), 2),
                   ("loop", "web:/a", pytest.approx(1.0), 3), ("error_event", "web:/cart", 0.0, 4)]
    helping = points(spark, js, rows)[-1]
    assert helping.conversion_rate_difference < 0 and helping.lost_conversions == 0.0


def test_comparison_stays_within_start_date_and_breakdown_value(spark):
    js = journeys(spark, cohort("a", 4, 0, segment="smb"), cohort("u", 6, 3, segment="smb"),
                  cohort("v", 10, 10, segment="enterprise"),
                  cohort("w", 10, 0, segment="smb", start=date(2026, 1, 6)))
    rows = [r for i in range(4) for r in occ(f"a{i:03d}")]
    by_segment = points(spark, js, rows, breakdown="segment")
    assert [(r.breakdown_value, r.journeys_affected, r.journeys_unaffected, r.unaffected_conversion_rate)
            for r in by_segment] == [("smb", 4, 6, 0.5)]
    [everyone] = points(spark, js, rows)
    assert (everyone.journeys_unaffected, everyone.journeys_unaffected_converted) == (16, 13)


def test_output_schema_is_the_contract(spark, example):
    js, rows = example
    out = friction_points(js, occurrences(spark, rows))
    contract = table_contract("friction_points").spark_schema()
    assert [(f.name, f.dataType) for f in out.schema] == [(f.name, f.dataType) for f in contract]
    # one row per breakdown value: all, and one each for segment, channel, device and region
    assert out.count() == 5


# ---------------------------------------------------------------- output suites


def _validate(df, table, tmp_path):
    return check_output(df, table, tmp_path)


def test_friction_points_suite_fails_on_a_broken_frame(spark, example, tmp_path):
    from pyspark.sql import functions as F

    js, rows = example
    out = friction_points(js, occurrences(spark, rows)).cache()
    broken = out.withColumn("journeys_unaffected", F.lit(-1).cast("long")) \
        .withColumn("lost_conversions", F.col("journeys_affected") + 1.0)
    report = _validate(broken, "friction_points", tmp_path / "bad")
    assert not report.success
    assert any("lost_conversions" in line for line in report.critical_failures)


def test_friction_occurrences_suite_catches_a_duplicate(spark, tmp_path):
    dup = occurrences(spark, occ("a000", n=1) * 2)
    assert not _validate(dup, "friction_occurrences", tmp_path / "bad").success
