-- the per-exchange rows add up to the interval's totals (trades exactly, USD to a relative 1e-9);
-- a row whose `exchanges` is null or empty cannot be reconciled and counts as a mismatch
{{ config(severity='warn') }}

with liquidations as (select * from {{ ref('stg_liquidations') }}),

by_exchange as (select * from {{ ref('stg_liquidations_by_exchange') }}),

exchange_sums as (
    select
        asset,
        "interval",
        interval_start,
        sum(total_trades) as exchanges_trades,
        sum(total_amount) as exchanges_amount
    from by_exchange
    group by all
),

final as (
    select
        liquidations.asset,
        liquidations."interval",
        liquidations.interval_start,
        liquidations.total_trades,
        exchange_sums.exchanges_trades,
        liquidations.total_amount,
        exchange_sums.exchanges_amount
    from liquidations
    left join exchange_sums
        on exchange_sums.asset = liquidations.asset
        and exchange_sums."interval" = liquidations."interval"
        and exchange_sums.interval_start = liquidations.interval_start
    where exchange_sums.asset is null
        or exchange_sums.exchanges_trades <> liquidations.total_trades
        or abs(exchange_sums.exchanges_amount - liquidations.total_amount) > 1e-9 * abs(liquidations.total_amount)
)

select * from final
