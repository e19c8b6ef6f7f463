-- Conversion by week and segment
--
-- Which segments convert, and is that changing? Journeys by the week they started (weeks
-- start on Monday) and the customer's CRM segment at the start; visitors without a CRM record
-- show as (unknown). Recent weeks still have open journeys that may convert, so compare them
-- on decided_conversion_rate (converted out of converted or dropped).
--
-- columns:
--   week: Monday of the week the journeys started
--   segment: CRM segment when the journey started; (unknown) without one
--   journeys: journeys that started that week
--   converted: of those, converted
--   dropped: of those, dropped (no event for journey_timeout_days)
--   still_open: of those, still open
--   conversion_rate: converted / journeys
--   decided_conversion_rate: converted / (converted + dropped); null while none is decided
SELECT
    CAST(date_trunc('week', journey_start_date) AS DATE) AS week,
    coalesce(segment, '(unknown)') AS segment,
    count(*) AS journeys,
    sum(CASE WHEN status = 'converted' THEN 1 ELSE 0 END) AS converted,
    sum(CASE WHEN status = 'dropped' THEN 1 ELSE 0 END) AS dropped,
    sum(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS still_open,
    round(sum(CASE WHEN status = 'converted' THEN 1 ELSE 0 END) / count(*), 4) AS conversion_rate,
    round(sum(CASE WHEN status = 'converted' THEN 1 ELSE 0 END)
          / NULLIF(sum(CASE WHEN status IN ('converted', 'dropped') THEN 1 ELSE 0 END), 0), 4)
        AS decided_conversion_rate
FROM journeys
GROUP BY 1, 2
ORDER BY week, segment;
