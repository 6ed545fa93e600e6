-- the per-exchange rows add up to the interval's totals (trades exactly, USD to a relative 1e-9);
-- a row whose `exchanges` is null or empty cannot be reconciled and counts as a mismatch.
-- The sums of each stg_liquidations row's own `exchanges` list (the list stg_liquidations_by_exchange
-- unnests one row an exchange) are columns of that model, summed once as a row is written: a warning sees
-- every row every build, and comparing two columns costs a scan, not millions of unnested rows again.
{{ config(severity='warn') }}

with liquidations as (select * from {{ ref('stg_liquidations') }}),

final as (
    select
        asset,
        "interval",
        interval_start,
        total_trades,
        exchanges_trades,
        total_amount,
        exchanges_amount
    from liquidations
    where exchanges_trades is null
        or exchanges_trades <> total_trades
        or abs(exchanges_amount - total_amount) > 1e-9 * abs(total_amount)
)

select * from final
