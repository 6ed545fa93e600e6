-- USD liquidated needs liquidation events and events need USD, per side, in totals and per exchange: a row
-- with one and not the other has no average size (the report shows "–"); a warning that names the hour
{{ config(severity='warn') }}

with measures as (select * from {{ ref('int_liquidation_measures') }}),

sides as (
    select model, asset, interval_start, exchange, 'total' as side, total_trades as trades, total_amount as amount
    from measures
    union all
    select model, asset, interval_start, exchange, 'long', long_trades, long_amount
    from measures
    union all
    select model, asset, interval_start, exchange, 'short', short_trades, short_amount
    from measures
),

final as (
    select model, asset, interval_start as hour, exchange, side, trades, amount
    from sides
    where (amount > 0 and trades = 0) or (trades > 0 and amount = 0)
    order by asset, hour, exchange nulls first, side
)

select * from final
