-- Data health of the latest runs
--
-- Can I trust the latest days? Per arrival date (the last seven the pipeline processed) and
-- source, the latest normalize run: rows delivered, accepted, quarantined, dropped as
-- duplicates, set aside as bots (docs/bots.md) or late, and whether the books balance. A
-- high quarantine_rate or an unbalanced run means the day's tables are incomplete;
-- `quarantine` (restricted) holds the rejected rows.
--
-- columns:
--   run_date: arrival date the run processed
--   source: source system
--   status: succeeded or failed
--   rows_in: raw rows delivered
--   rows_out: rows accepted into events (or crm_customers)
--   rows_quarantined: rows rejected into quarantine
--   quarantine_rate: rows_quarantined / rows_in
--   rows_duplicate: rows dropped as duplicates
--   rows_bot: events of ids above bots.max_events_per_day, kept in `bots`
--   rows_late: accepted rows whose event date precedes the arrival date
--   is_balanced: rows_in = rows_out + rows_quarantined + rows_duplicate + rows_bot
WITH latest AS (
    SELECT *, row_number() OVER (PARTITION BY run_date, source ORDER BY finished_at DESC, run_id DESC) AS attempt
    FROM pipeline_runs
    WHERE step = 'normalize' AND source <> 'all'
)
SELECT
    run_date,
    source,
    status,
    rows_in,
    rows_out,
    rows_quarantined,
    round(rows_quarantined / NULLIF(rows_in, 0), 4) AS quarantine_rate,
    rows_duplicate,
    coalesce(rows_bot, 0) AS rows_bot,
    rows_late,
    is_balanced
FROM latest
WHERE attempt = 1
  AND run_date > (SELECT max(run_date) FROM pipeline_runs) - INTERVAL '7' DAY
ORDER BY run_date DESC, source;
