-- one row per asset × hour inside a current complete 1h price window of the asset's reference instrument:
-- the hours for which the price is known (a bar, or a row saying nothing traded). Unlike the liquidations,
-- trade data has no 2025-01-08 history start.
with windows as (select * from {{ ref('stg_price_windows') }}),

current_windows as (
    select asset, start_time, end_time
    from windows
    where is_current and "interval" = '1h'
),

final as (
    select distinct
        asset,
        unnest(range(date_trunc('hour', start_time), end_time, interval 1 hour)) as hour
    from current_windows
)

select * from final
