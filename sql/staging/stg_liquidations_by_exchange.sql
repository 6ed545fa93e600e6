-- one row per asset × interval × interval_start × exchange: the rows' `exchanges` lists unnested
-- (`exchanges: null` or `[]` gives no rows).
with liquidations as (select * from {{ ref('stg_liquidations') }}),

unnested as (
    select
        asset,
        "interval",
        interval_start,
        fetch_id,
        unnest(exchanges) as by_exchange
    from liquidations
),

final as (
    select
        asset,
        "interval",
        interval_start,
        by_exchange.exchange,
        by_exchange.total_trades,
        by_exchange.total_amount,
        by_exchange.long_trades,
        by_exchange.long_amount,
        by_exchange.short_trades,
        by_exchange.short_amount,
        fetch_id
    from unnested
)

select * from final
