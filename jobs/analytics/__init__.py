"""Analytics on finished journeys: stage funnel, named funnels, friction points, touchpoints
and journey paths. Every table is computed per journey start date from the complete set of
journeys that started that day and their events, so a night recomputes exactly the start
dates whose journeys it rewrote (see docs/analytics.md)."""
