-- trades and USD amounts are counts and volumes: never negative, never null, in totals and per exchange
with liquidations as (select * from {{ ref('stg_liquidations') }}),

by_exchange as (select * from {{ ref('stg_liquidations_by_exchange') }}),

measures as (
    select 'stg_liquidations' as model, asset, interval_start, null as exchange,
        total_trades, total_amount, long_trades, long_amount, short_trades, short_amount
    from liquidations
    union all
    select 'stg_liquidations_by_exchange', asset, interval_start, exchange,
        total_trades, total_amount, long_trades, long_amount, short_trades, short_amount
    from by_exchange
),

final as (
    select *
    from measures
    where not (
        coalesce(total_trades >= 0 and total_amount >= 0 and long_trades >= 0 and long_amount >= 0
                 and short_trades >= 0 and short_amount >= 0, false)
    )
)

select * from final
