-- one row per asset × exchange × UTC day with at least one covered hour
with hourly_by_exchange as (select * from {{ ref('fct_liquidations_hourly_by_exchange') }}),

final as (
    select
        asset,
        exchange,
        cast(hour as date) as day,
        {{ sum_measures() }},
        count(*) as hours_covered
    from hourly_by_exchange
    group by all
    order by asset, exchange, day
)

select * from final
