-- one row per asset × ISO weekday (1 = Monday) × UTC hour of day, summed over the report period's covered hours
{{ config(materialized='table') }}

with timeline as (select * from {{ ref('rpt_hourly_timeline') }}),

final as (
    select
        asset,
        cast(isodow(hour) as integer) as weekday,
        cast(hour(hour) as integer) as hour_of_day,
        count(*) filter (where is_covered) as hours_covered,
        sum(total_amount) as total_amount,
        sum(long_amount) as long_amount,
        sum(short_amount) as short_amount
    from timeline
    group by asset, isodow(hour), hour(hour)
)

select * from final
