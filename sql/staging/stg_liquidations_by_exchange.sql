-- one row per asset × interval × interval_start × exchange: the rows' `exchanges` lists unnested
-- (`exchanges: null` or `[]` gives no rows).
{{ config(materialized='view') }}
with liquidations as (select * from {{ ref('stg_liquidations') }}),

unnested as (
    select
        asset,
        "interval",
        interval_start,
        fetch_id,
        unnest(exchanges) as by_exchange
    from liquidations
),

final as (
    select
        asset,
        "interval",
        interval_start,
        by_exchange.exchange,
        {{ liquidation_measures('by_exchange.') }},
        fetch_id
    from unnested
)

select * from final
