-- one row per asset × exchange × ISO week (Monday 00:00 UTC) with at least one covered hour
with hourly_by_exchange as (select * from {{ ref('fct_liquidations_hourly_by_exchange') }}),

final as (
    select
        asset,
        exchange,
        cast(date_trunc('week', hour) as date) as week_start,
        cast(sum(total_trades) as bigint) as total_trades,
        sum(total_amount) as total_amount,
        cast(sum(long_trades) as bigint) as long_trades,
        sum(long_amount) as long_amount,
        cast(sum(short_trades) as bigint) as short_trades,
        sum(short_amount) as short_amount,
        count(*) as hours_covered
    from hourly_by_exchange
    group by all
    order by asset, exchange, week_start
)

select * from final
