-- NPS, CES and CSAT by touchpoint
--
-- Where do customers rate us worst? Survey answers given at each touchpoint over the last four
-- weeks of data, worst NPS first, with the touchpoint's friction rate next to them. Scores are
-- pooled over the days by their answer counts, which is exact: NPS is a difference of shares
-- and CES a mean.
--
-- columns:
--   touchpoint: where the answers were given
--   channel: channel of the touchpoint
--   events: events at the touchpoint
--   friction_rate: share of those events with a friction occurrence
--   nps_responses: NPS answers (0-10)
--   nps: Net Promoter Score in points, -100..100; null without answers
--   ces_responses: CES answers (1-7)
--   ces: mean Customer Effort Score, 1-7 (higher = easier); null without answers
--   csat_responses: CSAT answers (1-5)
--   csat_rate: share of 4-5 answers; null without answers
SELECT
    touchpoint,
    channel,
    sum(events) AS events,
    round(sum(friction_events) / sum(events), 4) AS friction_rate,
    sum(nps_responses) AS nps_responses,
    round(sum(nps * nps_responses) / NULLIF(sum(nps_responses), 0), 1) AS nps,
    sum(ces_responses) AS ces_responses,
    round(sum(ces * ces_responses) / NULLIF(sum(ces_responses), 0), 2) AS ces,
    sum(csat_responses) AS csat_responses,
    round(sum(csat_rate * csat_responses) / NULLIF(sum(csat_responses), 0), 4) AS csat_rate
FROM touchpoints
WHERE journey_start_date > (SELECT max(journey_start_date) FROM touchpoints) - INTERVAL '28' DAY
GROUP BY touchpoint, channel
HAVING sum(nps_responses) + sum(ces_responses) + sum(csat_responses) > 0
ORDER BY nps ASC NULLS LAST, ces ASC NULLS LAST, touchpoint;
