-- one row per asset with a reference instrument × hour of the report period: the hourly chart's price line.
-- An hour outside every current complete price window has is_price_covered = false; an hour without a usable
-- bar (nothing traded, or an inconsistent bar) has has_price = false and no prices: the line breaks there.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

reference_instruments as (select * from {{ ref('stg_price_reference_instruments') }}),

hourly as (select * from {{ ref('fct_prices_hourly') }}),

hour_spine as (
    select unnest(generate_series(report_start, report_end - interval 1 hour, interval 1 hour)) as hour
    from report_window
),

final as (
    select
        reference_instruments.asset,
        hour_spine.hour,
        hourly.hour is not null as is_price_covered,
        coalesce(hourly.has_price, false) as has_price,
        hourly."open",
        hourly.high,
        hourly.low,
        hourly."close",
        hourly.hourly_return,
        hourly.high_low_range
    from reference_instruments
    cross join hour_spine
    left join hourly
        on hourly.asset = reference_instruments.asset
        and hourly.hour = hour_spine.hour
    order by reference_instruments.asset, hour_spine.hour
)

select * from final
