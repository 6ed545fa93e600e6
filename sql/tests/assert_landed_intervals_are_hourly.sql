-- the hourly facts are built from interval=1h landings only: rows landed at another interval are kept in
-- stg_liquidations but are not in the facts (fetch with --interval 1h for the report)
{{ config(severity='warn') }}

with liquidations as (select * from {{ ref('stg_liquidations') }}),

final as (
    select
        asset,
        "interval",
        count(*) as rows,
        min(interval_start) as first_start,
        max(interval_start) as last_start
    from liquidations
    where "interval" <> '1h'
    group by all
)

select * from final
