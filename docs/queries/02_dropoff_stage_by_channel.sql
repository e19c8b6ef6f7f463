-- Drop-off stage by channel
--
-- Where do journeys that start on each channel give up? For the journeys that started in the
-- last four weeks of data, per first-touch channel and funnel stage: how many reached the stage
-- in the closed funnel (after every earlier stage, in order), how many dropped there (their
-- furthest stage) and how many are still open there. From `stage_funnel`, whose rows per start
-- date add up exactly (docs/analytics.md).
--
-- columns:
--   channel: channel of the journeys' first event
--   stage: funnel stage
--   stage_order: its position in the funnel (1 = first)
--   journeys_reached: journeys that reached the stage (closed funnel)
--   journeys_dropped: dropped journeys whose furthest stage is this one
--   journeys_in_progress: open journeys whose furthest stage is this one
--   dropoff_rate: journeys_dropped / journeys_reached
--   share_of_channel_dropoffs: this stage's share of the channel's dropped journeys
SELECT
    breakdown_value AS channel,
    stage,
    stage_order,
    sum(journeys_reached_closed) AS journeys_reached,
    sum(journeys_dropped) AS journeys_dropped,
    sum(journeys_in_progress) AS journeys_in_progress,
    round(sum(journeys_dropped) / NULLIF(sum(journeys_reached_closed), 0), 4) AS dropoff_rate,
    round(sum(journeys_dropped) / NULLIF(sum(sum(journeys_dropped)) OVER (PARTITION BY breakdown_value), 0), 4)
        AS share_of_channel_dropoffs
FROM stage_funnel
WHERE breakdown = 'channel'
  AND journey_start_date > (SELECT max(journey_start_date) FROM stage_funnel) - INTERVAL '28' DAY
GROUP BY breakdown_value, stage, stage_order
ORDER BY channel, stage_order;
