-- one row per asset × exchange that appears anywhere in the asset's current hourly data
with by_exchange as (select * from {{ ref('stg_liquidations_by_exchange') }}),

final as (
    select distinct asset, exchange
    from by_exchange
    where "interval" = '1h'
)

select * from final
