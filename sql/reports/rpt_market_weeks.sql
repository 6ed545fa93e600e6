-- one row per ISO week (Monday) from the week the endpoint's history starts in (or 11 weeks before the report's
-- week, if that is earlier) to the report's week: the market (the report's assets with coverage in the report
-- period) summed per week, for the rank, the weekly z-score and the long-share trend. The spine does not
-- depend on what was fetched: a week not fetched is a row that is not covered. A week is fully covered only
-- when every market asset has all 168 hours.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

market_assets as (select asset from {{ ref('rpt_report_assets') }} where is_in_market),

weekly as (
    select *
    from {{ ref('fct_liquidations_weekly') }}
    where asset in (select asset from market_assets)
        and week_start <= (select report_week_start from report_window)
),

week_spine as (
    select cast(unnest(generate_series(
        least(date_trunc('week', history_start), cast(report_week_start as timestamp) - interval 11 week),
        cast(report_week_start as timestamp),
        interval 1 week
    )) as date) as week_start
    from report_window
),

sums as (
    select
        week_start,
        sum(total_trades) as total_trades,
        sum(total_amount) as total_amount,
        sum(long_amount) as long_amount,
        sum(short_amount) as short_amount,
        sum(hours_covered) as hours_covered,
        count(*) filter (where hours_covered = 168) as assets_fully_covered
    from weekly
    group by week_start
),

final as (
    select
        week_spine.week_start,
        cast(datediff('week', week_spine.week_start, report_window.report_week_start) as integer)
            as weeks_before_report,
        week_spine.week_start = report_window.report_week_start as is_report_week,
        sums.total_trades,
        sums.total_amount,
        sums.long_amount,
        sums.short_amount,
        sums.long_amount / nullif(sums.total_amount, 0) as long_share,
        coalesce(sums.hours_covered, 0) as hours_covered,
        168 * (select count(*) from market_assets) as hours_in_week,
        coalesce(sums.assets_fully_covered, 0) = (select count(*) from market_assets) as is_fully_covered
    from week_spine
    cross join report_window
    left join sums on sums.week_start = week_spine.week_start
)

select * from final
