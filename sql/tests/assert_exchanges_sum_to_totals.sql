-- the per-exchange rows add up to the interval's totals (trades exactly, USD to a relative 1e-9);
-- a row whose `exchanges` is null or empty cannot be reconciled and counts as a mismatch.
-- Summed from each row's own `exchanges` list, the list stg_liquidations_by_exchange unnests one row an
-- exchange: the same sums, without grouping millions of unnested rows again (a warning sees every row).
{{ config(severity='warn') }}

with liquidations as (select * from {{ ref('stg_liquidations') }}),

exchange_sums as (
    select
        asset,
        "interval",
        interval_start,
        total_trades,
        total_amount,
        -- null for a null or empty list
        list_sum([by_exchange.total_trades for by_exchange in exchanges]) as exchanges_trades,
        list_sum([by_exchange.total_amount for by_exchange in exchanges]) as exchanges_amount
    from liquidations
),

final as (
    select
        asset,
        "interval",
        interval_start,
        total_trades,
        exchanges_trades,
        total_amount,
        exchanges_amount
    from exchange_sums
    where exchanges_trades is null
        or exchanges_trades <> total_trades
        or abs(exchanges_amount - total_amount) > 1e-9 * abs(total_amount)
)

select * from final
