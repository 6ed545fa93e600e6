-- one row per asset × ISO week (Monday): the 12 weeks that end with the report period's last week
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

-- hours before the endpoint's history are not coverage: such a week reads "no coverage", not $0
hourly as (
    select *
    from {{ ref('fct_liquidations_hourly') }}
    where hour >= (select history_start from report_window)
),

assets as (select distinct asset from {{ ref('fct_liquidations_hourly') }}),

week_spine as (
    select
        cast(unnest(generate_series(
            date_trunc('week', report_end - interval 1 hour) - interval 11 week,
            report_end - interval 1 hour,
            interval 1 week
        )) as date) as week_start
    from report_window
),

weekly as (
    select
        asset,
        cast(date_trunc('week', hour) as date) as week_start,
        sum(total_trades) as total_trades,
        sum(total_amount) as total_amount,
        sum(long_amount) as long_amount,
        sum(short_amount) as short_amount,
        count(*) as hours_covered
    from hourly
    group by asset, cast(date_trunc('week', hour) as date)
),

trend as (
    select
        assets.asset,
        week_spine.week_start,
        coalesce(weekly.hours_covered, 0) as hours_covered,
        168 as hours_in_week,
        coalesce(weekly.hours_covered, 0) < 168 as is_partial,
        week_spine.week_start >= cast(date_trunc('week', report_window.report_start) as date) as is_report_week,
        weekly.total_trades,
        weekly.total_amount,
        weekly.long_amount,
        weekly.short_amount
    from assets
    cross join week_spine
    cross join report_window
    left join weekly
        on weekly.asset = assets.asset
        and weekly.week_start = week_spine.week_start
),

-- the report week's place among the fully covered weeks shown (1 = largest)
final as (
    select
        *,
        case when not is_partial then
            rank() over (partition by asset, is_partial order by total_amount desc)
        end as rank_in_trend,
        count(*) filter (where not is_partial) over (partition by asset) as weeks_ranked_in_trend
    from trend
)

select * from final
