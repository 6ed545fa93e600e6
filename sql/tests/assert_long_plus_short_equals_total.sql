-- long + short = total: trades exactly, USD amounts to a relative 1e-9 (float noise), totals and per exchange
with measures as (select * from {{ ref('int_liquidation_measures') }}),

final as (
    select *
    from measures
    where long_trades + short_trades <> total_trades
        or abs(long_amount + short_amount - total_amount) > 1e-9 * abs(total_amount)
)

select * from final
