-- one row per period_index: 0 is the report period, 1 the equally long period before it, … 4 four back;
-- summed over the market (the report's assets with coverage in the report period). A period is fully
-- covered only when every one of those assets has all its hours: a half-fetched base would fake a jump.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

market_assets as (select asset from {{ ref('rpt_report_assets') }} where is_in_market),

hourly as (
    select *
    from {{ ref('fct_liquidations_hourly') }}
    where asset in (select asset from market_assets)
        and hour >= (select history_start from report_window)
),

hourly_in_periods as (
    select
        hourly.*,
        cast(floor(
            datediff('hour', hourly.hour, report_window.report_end - interval 1 hour)
            / report_window.period_hours
        ) as integer) as period_index
    from hourly
    cross join report_window
    where hourly.hour < report_window.report_end
        and hourly.hour >= report_window.report_start - 4 * (report_window.report_end - report_window.report_start)
),

asset_periods as (
    select asset, period_index, count(*) as hours_covered
    from hourly_in_periods
    group by asset, period_index
),

period_spine as (select unnest(range(0, 5)) as period_index),

sums as (
    select
        period_index,
        {{ sum_measures() }}
    from hourly_in_periods
    group by period_index
),

completeness as (
    select
        period_index,
        count(*) filter (where hours_covered = (select period_hours from report_window)) as assets_fully_covered,
        sum(hours_covered) as hours_covered
    from asset_periods
    group by period_index
),

final as (
    select
        period_spine.period_index,
        report_window.report_start - period_spine.period_index * (report_window.report_end - report_window.report_start)
            as period_start,
        {{ coalesce_measures('sums.') }},
        coalesce(completeness.hours_covered, 0) as hours_covered,
        coalesce(completeness.assets_fully_covered, 0) as assets_fully_covered,
        (select count(*) from market_assets) as market_assets,
        (select count(*) from market_assets) > 0
            and coalesce(completeness.assets_fully_covered, 0) = (select count(*) from market_assets)
            as is_fully_covered
    from period_spine
    cross join report_window
    left join sums on sums.period_index = period_spine.period_index
    left join completeness on completeness.period_index = period_spine.period_index
)

select * from final
