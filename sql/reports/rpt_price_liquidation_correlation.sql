-- one row per asset: Pearson correlation of the hourly long-minus-short liquidated USD with the hourly price
-- return, over the hours with a price, a return and covered liquidations, for the report period and the 12
-- weeks before it. Negative when longs are liquidated on falls and shorts on rises; null under 3 hours or
-- when either side does not vary.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (select * from {{ ref('fct_prices_hourly') }}),

usable_hours as (
    select
        hourly.asset,
        hourly.long_amount - hourly.short_amount as net_long_amount,
        hourly.hourly_return,
        hourly.hour >= report_window.report_start as is_period
    from hourly
    cross join report_window
    where hourly.hour >= report_window.report_start - interval 84 day
        and hourly.hour < report_window.report_end
        and hourly.is_covered
        and hourly.hourly_return is not null
),

by_asset as (
    select
        asset,
        count(*) filter (where is_period) as hours_used,
        corr(net_long_amount, hourly_return) filter (where is_period) as correlation,
        count(*) filter (where not is_period) as trailing_hours_used,
        corr(net_long_amount, hourly_return) filter (where not is_period) as trailing_correlation
    from usable_hours
    group by asset
),

final as (
    select
        asset,
        hours_used,
        case when hours_used >= 3 and not isnan(correlation) then correlation end as correlation,
        trailing_hours_used,
        case when trailing_hours_used >= 3 and not isnan(trailing_correlation) then trailing_correlation end
            as trailing_correlation
    from by_asset
    order by asset
)

select * from final
