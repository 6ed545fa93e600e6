-- every landed price is positive and every volume non-negative (stg_prices, as landed); a bar failing this
-- has no price in fct_prices_hourly, so a warning: the report shows that hour without price
{{ config(severity='warn') }}

with prices as (select * from {{ ref('stg_prices') }}),

final as (
    select asset, "interval", interval_start, instrument, "open", high, low, "close", volume
    from prices
    where least("open", high, low, "close") <= 0
        or volume < 0
)

select * from final
