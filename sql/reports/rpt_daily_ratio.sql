-- one row per asset × UTC day of the report period, with the same day one period earlier for comparison
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (
    select *
    from {{ ref('fct_liquidations_hourly') }}
    where hour >= (select history_start from report_window)
),

assets as (select distinct asset from {{ ref('fct_liquidations_hourly') }}),

day_spine as (
    select
        cast(unnest(generate_series(
            date_trunc('day', report_start), report_end - interval 1 hour, interval 1 day
        )) as date) as day
    from report_window
),

hourly_by_day as (
    select
        hourly.asset,
        cast(hourly.hour as date) as day,
        {{ sum_measures('hourly.') }},
        count(*) as hours_covered
    from hourly
    cross join report_window
    where hourly.hour >= report_window.previous_start
        and hourly.hour < report_window.report_end
    group by hourly.asset, cast(hourly.hour as date)
),

final as (
    select
        assets.asset,
        day_spine.day,
        row_number() over (partition by assets.asset order by day_spine.day) as day_number,
        coalesce(this_day.hours_covered, 0) as hours_covered,
        this_day.total_trades,
        this_day.total_amount,
        this_day.long_trades,
        this_day.long_amount,
        this_day.short_trades,
        this_day.short_amount,
        this_day.long_amount / nullif(this_day.total_amount, 0) as long_share,
        -- USD without trades (or trades without USD) is bad data: no average, the warn test names the hour
        case when this_day.total_trades > 0 and this_day.total_amount > 0
            then this_day.total_amount / this_day.total_trades end as average_size,
        previous_day.day as previous_day,
        coalesce(previous_day.hours_covered, 0) as previous_hours_covered,
        previous_day.total_amount as previous_total_amount,
        previous_day.long_amount as previous_long_amount,
        previous_day.short_amount as previous_short_amount
    from assets
    cross join day_spine
    cross join report_window
    left join hourly_by_day as this_day
        on this_day.asset = assets.asset
        and this_day.day = day_spine.day
    left join hourly_by_day as previous_day
        on previous_day.asset = assets.asset
        and previous_day.day = cast(day_spine.day - (report_window.report_end - report_window.report_start) as date)
)

select * from final
