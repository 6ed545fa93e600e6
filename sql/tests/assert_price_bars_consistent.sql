-- low <= open, close <= high, and a bar is either all prices or none (nothing traded); a bar failing this
-- has no price in fct_prices_hourly, so a warning: the report shows that hour without price
{{ config(severity='warn') }}

with prices as (select * from {{ ref('stg_prices') }}),

final as (
    select asset, "interval", interval_start, instrument, "open", high, low, "close"
    from prices
    where low > least("open", "close")
        or high < greatest("open", "close")
        or low > high
        or ("open" is null) <> ("close" is null)
        or ("high" is null) <> ("close" is null)
        or ("low" is null) <> ("close" is null)
)

select * from final
