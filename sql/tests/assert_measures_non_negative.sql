-- trades and USD amounts are counts and volumes: never negative, never null, in totals and per exchange
with measures as (select * from {{ ref('int_liquidation_measures') }}),

final as (
    select *
    from measures
    where not (
        coalesce(total_trades >= 0 and total_amount >= 0 and long_trades >= 0 and long_amount >= 0
                 and short_trades >= 0 and short_amount >= 0, false)
    )
)

select * from final
