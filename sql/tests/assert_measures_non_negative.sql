-- trades and USD amounts are counts and volumes: never negative, never null, in totals and per exchange
with measures as (select * from {{ ref('int_liquidation_measures') }}),

final as (
    select *
    from measures
    where not (
        coalesce({% for name in measure_types() %}{{ name }} >= 0{{ ' and ' if not loop.last }}{% endfor %}, false)
    )
)

select * from final
