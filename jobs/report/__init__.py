"""`journeys report`: one self-contained HTML file over a date range of the published tables.

    from jobs.report.render import write_report
    write_report("data/warehouse", date(2026, 1, 5), date(2026, 1, 9), "data/report.html")

Modules: `data` (DuckDB queries, through jobs.analyst.warehouse), `svg` and `sankey` (charts as
inline SVG), `page` (HTML building blocks), `sections` (one function per report section),
`render` (the whole report), `command` (the `journeys report` subcommand). DuckDB only: the
report runs where analysts are, without Spark or Java. Nothing is imported here, so the
command line starts fast.
"""
