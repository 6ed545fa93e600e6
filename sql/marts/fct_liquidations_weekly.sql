-- one row per asset × ISO week (Monday 00:00 UTC) with at least one covered hour; hours_covered says how complete it is
with hourly as (select * from {{ ref('fct_liquidations_hourly') }}),

final as (
    select
        asset,
        cast(date_trunc('week', hour) as date) as week_start,
        {{ sum_measures() }},
        count(*) as hours_covered,
        count(*) filter (where has_data) as hours_with_data
    from hourly
    group by all
    order by asset, week_start
)

select * from final
