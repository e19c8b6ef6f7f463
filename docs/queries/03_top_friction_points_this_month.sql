-- Top friction points this month
--
-- Which friction points cost the most conversions this month? Each point is a touchpoint,
-- stage and signal (docs/friction.md); `friction_points` compares the journeys it affected with
-- comparable journeys of the same start date that reached the same stage without it. The
-- estimated lost conversions of each start date add up over the month; the rates are pooled
-- over the month's journeys.
--
-- columns:
--   touchpoint: where the friction happened
--   stage: funnel stage of the occurrences; (none) without one
--   signal: friction signal (error_event, rage_click, stall, repeat_contact, ...)
--   occurrences: occurrences this month
--   journeys_affected: journeys with at least one occurrence
--   lost_conversions: estimated conversions lost to it (sum of the daily estimates)
--   affected_conversion_rate: conversion rate of the affected journeys
--   unaffected_conversion_rate: conversion rate of comparable journeys without it; null without any
--   significant_days: start dates on which the difference was statistically significant
--   days: start dates with occurrences
SELECT
    touchpoint,
    stage,
    signal,
    sum(occurrences) AS occurrences,
    sum(journeys_affected) AS journeys_affected,
    round(sum(lost_conversions), 2) AS lost_conversions,
    round(sum(journeys_affected_converted) / sum(journeys_affected), 4) AS affected_conversion_rate,
    round(sum(journeys_unaffected_converted) / NULLIF(sum(journeys_unaffected), 0), 4) AS unaffected_conversion_rate,
    sum(CASE WHEN is_significant THEN 1 ELSE 0 END) AS significant_days,
    count(*) AS days
FROM friction_points
WHERE breakdown = 'all'
  AND journey_start_date >= CAST(date_trunc('month', (SELECT max(journey_start_date) FROM friction_points)) AS DATE)
GROUP BY touchpoint, stage, signal
ORDER BY lost_conversions DESC, occurrences DESC, touchpoint, stage, signal
LIMIT 10;
