-- one row per asset × ISO week (Monday 00:00 UTC) with at least one covered hour; hours_covered says how complete it is
with hourly as (select * from {{ ref('fct_liquidations_hourly') }}),

final as (
    select
        asset,
        cast(date_trunc('week', hour) as date) as week_start,
        cast(sum(total_trades) as bigint) as total_trades,
        sum(total_amount) as total_amount,
        cast(sum(long_trades) as bigint) as long_trades,
        sum(long_amount) as long_amount,
        cast(sum(short_trades) as bigint) as short_trades,
        sum(short_amount) as short_amount,
        count(*) as hours_covered,
        count(*) filter (where has_data) as hours_with_data
    from hourly
    group by all
    order by asset, week_start
)

select * from final
