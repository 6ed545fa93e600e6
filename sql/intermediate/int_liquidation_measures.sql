-- one row per asset × interval (exchange null) and per asset × interval × exchange: every row that carries the
-- six measures, so checks on the measures read one relation. A view: only the data tests scan it.
{{ config(materialized='view') }}

with liquidations as (select * from {{ ref('stg_liquidations') }}),

by_exchange as (select * from {{ ref('stg_liquidations_by_exchange') }}),

final as (
    select 'stg_liquidations' as model, asset, interval_start, null as exchange, {{ liquidation_measures() }}
    from liquidations
    union all
    select 'stg_liquidations_by_exchange', asset, interval_start, exchange, {{ liquidation_measures() }}
    from by_exchange
)

select * from final
