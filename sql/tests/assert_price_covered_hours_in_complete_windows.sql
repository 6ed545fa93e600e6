-- fct_prices_hourly holds only hours inside a current complete price window of the asset's reference
-- instrument (checked against the manifests themselves); a covered hour also has covered liquidations and
-- a usable bar, so no number mixes covered and uncovered hours
with hourly as (select * from {{ ref('fct_prices_hourly') }}),

windows as (select * from {{ ref('stg_price_windows') }}),

liquidations as (select * from {{ ref('fct_liquidations_hourly') }}),

reference_windows as (
    select asset, start_time, end_time
    from windows
    where is_current
        and is_reference_instrument
        and outcome = 'landed'
        and "interval" = '1h'
),

outside_windows as (
    select hourly.asset, hourly.hour, 'outside a complete price window' as problem
    from hourly
    anti join reference_windows
        on reference_windows.asset = hourly.asset
        and hourly.hour >= reference_windows.start_time
        and hourly.hour < reference_windows.end_time
),

covered_without_liquidations as (
    select hourly.asset, hourly.hour, 'covered without covered liquidations' as problem
    from hourly
    anti join liquidations
        on liquidations.asset = hourly.asset
        and liquidations.hour = hourly.hour
    where hourly.is_covered
),

covered_without_a_bar as (
    select asset, hour, 'covered without a usable bar' as problem
    from hourly
    where is_covered
        and not coalesce(least("open", high, low, "close") > 0 and low <= least("open", "close")
                         and high >= greatest("open", "close"), false)
),

final as (
    select * from outside_windows
    union all
    select * from covered_without_liquidations
    union all
    select * from covered_without_a_bar
)

select * from final
