-- one row: the report period [report_start, report_end) and the equally long period just before it
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
        report_start - (report_end - report_start) as previous_start
    from bounds
)

select * from final
