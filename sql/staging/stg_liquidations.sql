-- one row per asset × interval × interval_start, from the current complete fetches; where windows overlap
-- (clipped differently) or a row repeats across pages, a row inside its fetch's own range beats one outside
-- it, then the newest fetch wins.
{{ config(materialized='table') }}

with landed_rows as (select * from {{ ref('stg_liquidation_rows') }}),

final as (
    select
        asset,
        "interval",
        interval_start,
        interval_time,
        interval_timestamp,
        timestamp_unit,
        {{ liquidation_measures() }},
        exchanges,
        "window",
        fetch_id,
        page_file
    from landed_rows
    where is_current_fetch
    qualify row_number() over (
        partition by asset, "interval", interval_start
        order by is_inside_window desc nulls last, fetch_id desc, page_file desc
    ) = 1
)

select * from final
