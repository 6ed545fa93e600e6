-- stg_liquidations has one row per asset × interval × interval_start (the dedupe worked)
with liquidations as (select * from {{ ref('stg_liquidations') }}),

final as (
    select asset, "interval", interval_start, count(*) as rows
    from liquidations
    group by all
    having count(*) > 1
)

select * from final
