-- Time to convert by first-touch channel
--
-- How long do converting journeys take, by the channel they started on? For journeys that
-- started in the last four weeks of data: the conversion rate and, over the converted journeys,
-- the median and 90th-percentile hours from first touch to purchase and the typical length.
--
-- columns:
--   channel: channel of the journeys' first event
--   journeys: journeys that started there
--   converted: of those, converted
--   conversion_rate: converted / journeys
--   median_hours_to_convert: median hours from first event to conversion
--   p90_hours_to_convert: 90th percentile of the same
--   median_events_to_convert: median events in a converted journey
--   median_sessions_to_convert: median sessions in a converted journey
SELECT
    first_touch_channel AS channel,
    count(*) AS journeys,
    sum(CASE WHEN status = 'converted' THEN 1 ELSE 0 END) AS converted,
    round(sum(CASE WHEN status = 'converted' THEN 1 ELSE 0 END) / count(*), 4) AS conversion_rate,
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN status = 'converted' THEN duration_seconds END)
          / 3600, 2) AS median_hours_to_convert,
    round(percentile_cont(0.9) WITHIN GROUP (ORDER BY CASE WHEN status = 'converted' THEN duration_seconds END)
          / 3600, 2) AS p90_hours_to_convert,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN status = 'converted' THEN n_events END)
        AS median_events_to_convert,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN status = 'converted' THEN n_sessions END)
        AS median_sessions_to_convert
FROM journeys
WHERE journey_start_date > (SELECT max(journey_start_date) FROM journeys) - INTERVAL '28' DAY
GROUP BY first_touch_channel
ORDER BY conversion_rate DESC, channel;
