-- no key column is null (a row without interval_timestamp and interval_time has no start); the keys of
-- fct_liquidations_hourly_by_exchange, a view, are those of fct_liquidations_hourly and stg_liquidations_by_exchange
-- (an incremental build checks the rows it wrote, a full refresh every row: macros/rows_written.sql)
with null_keys as (
    select 'stg_liquidations' as model, asset, interval_start::varchar as at, null as exchange
    from {{ rows_written(ref('stg_liquidations')) }}
    where asset is null or "interval" is null or interval_start is null
    union all
    select 'stg_liquidations_by_exchange', asset, interval_start::varchar, exchange
    from {{ rows_written(ref('stg_liquidations_by_exchange')) }}
    where asset is null or interval_start is null or exchange is null
    union all
    select 'fct_liquidations_hourly', asset, hour::varchar, null
    from {{ rows_written(ref('fct_liquidations_hourly')) }}
    where asset is null or hour is null
),

final as (
    select * from null_keys
)

select * from final
