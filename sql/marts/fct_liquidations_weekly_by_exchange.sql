-- one row per asset × exchange × ISO week (Monday 00:00 UTC) with at least one covered hour
with hourly_by_exchange as (select * from {{ ref('fct_liquidations_hourly_by_exchange') }}),

final as (
    select
        asset,
        exchange,
        cast(date_trunc('week', hour) as date) as week_start,
        {{ sum_measures() }},
        count(*) as hours_covered
    from hourly_by_exchange
    group by all
    order by asset, exchange, week_start
)

select * from final
