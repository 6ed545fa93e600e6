-- one row: the report period [report_start, report_end), the equally long period just before it, and
-- the first hour the endpoint has data for (docs: history from 2025-01-08); earlier hours are "no coverage"
{{ config(materialized='table') }}

with bounds as (
    select
        timestamp '{{ var("report_start") }}' as report_start,
        timestamp '{{ var("report_end") }}' as report_end
),

final as (
    select
        report_start,
        report_end,
        datediff('hour', report_start, report_end) as period_hours,
        report_start - (report_end - report_start) as previous_start,
        {{ history_start() }} as history_start,
        -- the first ISO week the endpoint covers whole: the rank counts weeks from here, whatever was fetched
        cast(date_trunc('week', {{ history_start() }} - interval 1 microsecond) + interval 7 day as date)
            as first_full_week_start,
        cast(date_trunc('week', report_start) as date) as report_week_start,
        -- ranking and the weekly z-score compare ISO weeks; another range is not ranked among them
        datediff('hour', report_start, report_end) = 168
            and report_start = date_trunc('week', report_start) as is_iso_week
    from bounds
)

select * from final
