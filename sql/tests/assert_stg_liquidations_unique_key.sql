-- stg_liquidations has one row per asset × interval × interval_start (the dedupe worked)
-- (an incremental build checks the rows it wrote, a full refresh every row: macros/rows_written.sql)
with liquidations as (select * from {{ rows_written(ref('stg_liquidations')) }}),

final as (
    select asset, "interval", interval_start, count(*) as rows
    from liquidations
    group by all
    having count(*) > 1
)

select * from final
