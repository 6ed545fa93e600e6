-- no key column is null (a row without interval_timestamp and interval_time has no start)
with null_keys as (
    select 'stg_liquidations' as model, asset, interval_start::varchar as at, null as exchange
    from {{ ref('stg_liquidations') }}
    where asset is null or "interval" is null or interval_start is null
    union all
    select 'stg_liquidations_by_exchange', asset, interval_start::varchar, exchange
    from {{ ref('stg_liquidations_by_exchange') }}
    where asset is null or interval_start is null or exchange is null
    union all
    select 'fct_liquidations_hourly', asset, hour::varchar, null
    from {{ ref('fct_liquidations_hourly') }}
    where asset is null or hour is null
    union all
    select 'fct_liquidations_hourly_by_exchange', asset, hour::varchar, exchange
    from {{ ref('fct_liquidations_hourly_by_exchange') }}
    where asset is null or hour is null or exchange is null
),

final as (
    select * from null_keys
)

select * from final
