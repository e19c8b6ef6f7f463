-- Customers with repeat calls
--
-- Who had to call more than once? Customers with two or more inbound calls in the last 30 days
-- of data: a second call is often a first one that did not solve the problem. Outbound
-- callbacks are the company's initiative and are left out. repeat_contacts counts the calls
-- followed by another within 7 days in the same journey (the repeat_contact friction signal).
--
-- columns:
--   customer_key: resolved customer (customers.customer_key)
--   customer_id: CRM customer id, when known
--   segment: CRM segment
--   calls: inbound calls
--   days_with_calls: distinct days (UTC) with a call
--   queues: queues called, sorted
--   abandoned_calls: calls hung up before an agent answered
--   repeat_contacts: calls followed by another call within 7 days in the same journey
--   first_call_at: first of those calls, UTC
--   last_call_at: latest of those calls, UTC
WITH calls AS (
    SELECT customer_key, event_at, touchpoint, attributes['disposition'] AS disposition
    FROM journey_events
    WHERE event_type = 'call'
      AND event_date > (SELECT max(event_date) FROM journey_events) - INTERVAL '30' DAY
),
repeats AS (
    SELECT customer_key, count(*) AS repeat_contacts
    FROM friction_occurrences
    WHERE signal = 'repeat_contact'
      AND occurred_at > (SELECT max(event_date) FROM journey_events) - INTERVAL '30' DAY
    GROUP BY customer_key
)
SELECT
    c.customer_key,
    cu.customer_id,
    cu.segment,
    count(*) AS calls,
    count(DISTINCT CAST(c.event_at AS DATE)) AS days_with_calls,
    array_sort(array_agg(DISTINCT c.touchpoint)) AS queues,
    sum(CASE WHEN lower(c.disposition) = 'abandoned' THEN 1 ELSE 0 END) AS abandoned_calls,
    coalesce(max(r.repeat_contacts), 0) AS repeat_contacts,
    min(c.event_at) AS first_call_at,
    max(c.event_at) AS last_call_at
FROM calls AS c
LEFT JOIN customers AS cu ON cu.customer_key = c.customer_key
LEFT JOIN repeats AS r ON r.customer_key = c.customer_key
GROUP BY c.customer_key, cu.customer_id, cu.segment
HAVING count(*) >= 2
ORDER BY calls DESC, last_call_at DESC, customer_key;
