-- trades and USD amounts are counts and volumes: never negative, never null, in totals and per exchange
-- (an incremental build checks the rows it wrote, a full refresh every row: macros/rows_written.sql)
with measures as (
    {{ measure_rows(rows_written(ref('stg_liquidations')), rows_written(ref('stg_liquidations_by_exchange'))) }}
),

final as (
    select *
    from measures
    where not (
        coalesce({% for name in measure_types() %}{{ name }} >= 0{{ ' and ' if not loop.last }}{% endfor %}, false)
    )
)

select * from final
