-- one row per asset: USD liquidated per 1 % of absolute hourly price movement (the sum of |hourly return|,
-- in percent), in total and by side, for the report period and the 12 weeks before it, over the same hours
-- for numerator and denominator: those with a price, a return and covered liquidations (hours_used).
-- change_vs_trailing is a fraction (0.25 = 25 % more USD per 1 % move than the trailing 12 weeks).
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (select * from {{ ref('fct_prices_hourly') }}),

usable_hours as (
    select
        hourly.*,
        case when hourly.hour >= report_window.report_start then 'period' else 'trailing' end as span
    from hourly
    cross join report_window
    where hourly.hour >= report_window.report_start - interval 84 day
        and hourly.hour < report_window.report_end
        and hourly.is_covered
        and hourly.hourly_return is not null
),

by_span as (
    select
        asset,
        span,
        count(*) as hours_used,
        100 * sum(abs(hourly_return)) as absolute_move_pct,
        sum(total_amount) as total_amount,
        sum(long_amount) as long_amount,
        sum(short_amount) as short_amount
    from usable_hours
    group by asset, span
),

per_move as (
    select
        *,
        total_amount / nullif(absolute_move_pct, 0) as total_per_pct_move,
        long_amount / nullif(absolute_move_pct, 0) as long_per_pct_move,
        short_amount / nullif(absolute_move_pct, 0) as short_per_pct_move
    from by_span
),

assets as (select distinct asset from per_move),

final as (
    select
        assets.asset,
        report_window.period_hours as hours_in_period,
        coalesce(report_span.hours_used, 0) as hours_used,
        report_span.absolute_move_pct,
        report_span.total_amount,
        report_span.long_amount,
        report_span.short_amount,
        report_span.total_per_pct_move,
        report_span.long_per_pct_move,
        report_span.short_per_pct_move,
        12 * 168 as trailing_hours,
        coalesce(trailing_span.hours_used, 0) as trailing_hours_used,
        trailing_span.absolute_move_pct as trailing_absolute_move_pct,
        trailing_span.total_per_pct_move as trailing_total_per_pct_move,
        trailing_span.long_per_pct_move as trailing_long_per_pct_move,
        trailing_span.short_per_pct_move as trailing_short_per_pct_move,
        report_span.total_per_pct_move / nullif(trailing_span.total_per_pct_move, 0) - 1
            as change_vs_trailing,
        report_span.long_per_pct_move / nullif(trailing_span.long_per_pct_move, 0) - 1
            as long_change_vs_trailing,
        report_span.short_per_pct_move / nullif(trailing_span.short_per_pct_move, 0) - 1
            as short_change_vs_trailing
    from assets
    cross join report_window
    left join per_move as report_span on report_span.asset = assets.asset and report_span.span = 'period'
    left join per_move as trailing_span
        on trailing_span.asset = assets.asset and trailing_span.span = 'trailing'
    order by assets.asset
)

select * from final
