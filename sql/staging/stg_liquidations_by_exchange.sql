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
        by_exchange.exchange as exchange,
        cast(by_exchange.total_trades as bigint) as total_trades,
        cast(by_exchange.total_amount as double) as total_amount,
        cast(by_exchange.long_trades as bigint) as long_trades,
        cast(by_exchange.long_amount as double) as long_amount,
        cast(by_exchange.short_trades as bigint) as short_trades,
        cast(by_exchange.short_amount as double) as short_amount,
        fetch_id
    from unnested
)

select * from final
