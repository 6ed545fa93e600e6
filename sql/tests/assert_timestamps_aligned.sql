-- interval starts fall on the interval grid (whole hours; whole days for 1d/24h) and interval_time
-- (an incremental build checks the rows it wrote, a full refresh every row: macros/rows_written.sql)
-- agrees with interval_timestamp (after normalising its unit)
with liquidations as (select * from {{ rows_written(ref('stg_liquidations')) }}),

final as (
    select asset, "interval", interval_start, interval_time, interval_timestamp, timestamp_unit
    from liquidations
    where epoch_us(interval_start) % (
            case when "interval" in ('1d', '24h') then 86400 else 3600 end * 1000000::bigint
        ) <> 0
        or interval_time <> interval_start
)

select * from final
