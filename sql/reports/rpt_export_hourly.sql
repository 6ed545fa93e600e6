-- one row per asset × hour of the report period and the 12 weeks before it (what the report compares the
-- period with), every hour whether fetched or not: the hourly export. An hour outside every complete window
-- (before the endpoint's history, not fetched, not yet happened) has covered = false and no measures
-- (missing); a covered hour without liquidations has zeros. The price columns come from fct_prices_hourly:
-- null unless has_price (the hour lies in a complete price window of the asset's reference instrument and
-- traded with a consistent bar).
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (
    select *
    from {{ ref('fct_liquidations_hourly') }}
    where hour >= (select history_start from report_window)
),

prices as (select * from {{ ref('fct_prices_hourly') }}),

assets as (select distinct asset from {{ ref('fct_liquidations_hourly') }}),

hour_spine as (
    select unnest(generate_series(
        report_start - interval 12 week, report_end - interval 1 hour, interval 1 hour
    )) as hour
    from report_window
),

final as (
    select
        assets.asset,
        hour_spine.hour,
        hourly.hour is not null as covered,
        {{ liquidation_measures('hourly.') }},
        prices."close",
        prices.hourly_return,
        prices.high_low_range,
        coalesce(prices.has_price, false) as has_price
    from assets
    cross join hour_spine
    left join hourly
        on hourly.asset = assets.asset
        and hourly.hour = hour_spine.hour
    left join prices
        on prices.asset = assets.asset
        and prices.hour = hour_spine.hour
)

select * from final
