-- one row per asset × hour of the report period; an hour outside every complete window has is_covered = false
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

-- an hour before the endpoint's history is absent, not a zero: the API simply has nothing there
hourly as (
    select *
    from {{ ref('fct_liquidations_hourly') }}
    where hour >= (select history_start from {{ ref('rpt_report_window') }})
),

assets as (select distinct asset from {{ ref('fct_liquidations_hourly') }}),

hour_spine as (
    select unnest(generate_series(report_start, report_end - interval 1 hour, interval 1 hour)) as hour
    from report_window
),

final as (
    select
        assets.asset,
        hour_spine.hour,
        hourly.hour is not null as is_covered,
        coalesce(hourly.has_data, false) as has_data,
        {{ liquidation_measures('hourly.') }},
        sum(coalesce(hourly.long_amount, 0)) over through_the_period as cumulative_long_amount,
        sum(coalesce(hourly.short_amount, 0)) over through_the_period as cumulative_short_amount
    from assets
    cross join hour_spine
    left join hourly
        on hourly.asset = assets.asset
        and hourly.hour = hour_spine.hour
    window through_the_period as (partition by assets.asset order by hour_spine.hour)
)

select * from final
