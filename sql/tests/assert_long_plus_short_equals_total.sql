-- long + short = total: trades exactly, USD amounts to a relative 1e-9 (float noise), totals and per exchange
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
    where long_trades + short_trades <> total_trades
        or abs(long_amount + short_amount - total_amount) > 1e-9 * abs(total_amount)
)

select * from final
