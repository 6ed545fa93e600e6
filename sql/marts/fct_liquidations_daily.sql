-- one row per asset × UTC day with at least one covered hour; hours_covered says how complete it is
with hourly as (select * from {{ ref('fct_liquidations_hourly') }}),

final as (
    select
        asset,
        cast(hour as date) as day,
        {{ sum_measures() }},
        count(*) as hours_covered,
        count(*) filter (where has_data) as hours_with_data
    from hourly
    group by all
    order by asset, day
)

select * from final
