-- one row per asset × interval (exchange null) and per asset × interval × exchange: every row that carries the
-- six measures, so checks on the measures read one relation. A view: only the data tests scan it.
{{ config(materialized='view') }}

with final as (
    {{ measure_rows(ref('stg_liquidations'), ref('stg_liquidations_by_exchange')) }}
)

select * from final
