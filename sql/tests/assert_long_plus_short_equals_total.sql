-- long + short = total: trades exactly, USD amounts to a relative 1e-9 (float noise), totals and per exchange
-- (an incremental build checks the rows it wrote, a full refresh every row: macros/rows_written.sql)
with measures as (
    {{ measure_rows(rows_written(ref('stg_liquidations')), rows_written(ref('stg_liquidations_by_exchange'))) }}
),

final as (
    select *
    from measures
    where long_trades + short_trades <> total_trades
        or abs(long_amount + short_amount - total_amount) > 1e-9 * abs(total_amount)
)

select * from final
