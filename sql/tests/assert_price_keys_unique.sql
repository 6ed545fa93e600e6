-- one row per key in the price models: stg_prices per asset × interval × interval_start, fct_prices_hourly
-- per asset × hour, and one reference instrument per asset
with duplicates as (
    select 'stg_prices' as model, asset, "interval" || ' ' || interval_start::varchar as at, count(*) as rows
    from {{ ref('stg_prices') }} group by asset, "interval", interval_start having count(*) > 1
    union all
    select 'fct_prices_hourly', asset, hour::varchar, count(*)
    from {{ ref('fct_prices_hourly') }} group by asset, hour having count(*) > 1
    union all
    select 'stg_price_reference_instruments', asset, null, count(*)
    from {{ ref('stg_price_reference_instruments') }} group by asset having count(*) > 1
),

final as (
    select * from duplicates
)

select * from final
