-- one row per asset with a price-covered hour in the report period: the period's move, open (first traded
-- hour's open) to close (last traded hour's close), and its high–low range. Shown only when every hour of
-- the period lies in a complete price window (is_complete); otherwise the prices are null and the hour
-- counts say why: a partial week's move is not the week's move.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (select * from {{ ref('fct_prices_hourly') }}),

period as (
    select hourly.*
    from hourly
    cross join report_window
    where hourly.hour >= report_window.report_start
        and hourly.hour < report_window.report_end
),

summary as (
    select
        asset,
        any_value(exchange) as exchange,
        any_value(instrument_class) as instrument_class,
        any_value(instrument) as instrument,
        count(*) as hours_price_covered,
        count(*) filter (where has_price) as hours_with_price,
        arg_min("open", hour) filter (where has_price) as period_open,
        arg_max("close", hour) filter (where has_price) as period_close,
        max(high) filter (where has_price) as period_high,
        min(low) filter (where has_price) as period_low,
        arg_max(hour, high) filter (where has_price) as high_hour,
        arg_min(hour, low) filter (where has_price) as low_hour
    from period
    group by asset
),

with_completeness as (
    select
        summary.*,
        report_window.period_hours as hours_in_period,
        summary.hours_price_covered = report_window.period_hours and summary.hours_with_price > 0
            as is_complete
    from summary
    cross join report_window
),

final as (
    select
        asset,
        exchange,
        instrument_class,
        instrument,
        hours_in_period,
        hours_price_covered,
        hours_with_price,
        is_complete,
        case when is_complete then period_open end as period_open,
        case when is_complete then period_close end as period_close,
        case when is_complete then period_high end as period_high,
        case when is_complete then period_low end as period_low,
        case when is_complete then high_hour end as high_hour,
        case when is_complete then low_hour end as low_hour,
        case when is_complete then period_close / period_open - 1 end as price_change,
        case when is_complete then (period_high - period_low) / period_open end as high_low_range
    from with_completeness
    order by asset
)

select * from final
