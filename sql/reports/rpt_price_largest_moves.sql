-- one row per asset × rank: the report period's 5 largest absolute hourly price moves among the hours with
-- both a price and covered liquidations (an hour the price did not move is never listed), with the
-- liquidations in them. share_of_period = the hour's share of the period's liquidations (all
-- liquidation-covered hours, as in rpt_weekly_summary).
{{ config(materialized='table') }}
{%- set top_moves = 5 %}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (select * from {{ ref('fct_prices_hourly') }}),

liquidations as (select * from {{ ref('fct_liquidations_hourly') }}),

period_moves as (
    select hourly.*
    from hourly
    cross join report_window
    where hourly.hour >= report_window.report_start
        and hourly.hour < report_window.report_end
        and hourly.is_covered
        and hourly.hourly_return <> 0  -- an hour the price did not move is no move (null: no return)
),

period_liquidations as (
    select liquidations.asset, sum(liquidations.total_amount) as period_amount
    from liquidations
    cross join report_window
    where liquidations.hour >= report_window.report_start
        and liquidations.hour < report_window.report_end
    group by liquidations.asset
),

ranked as (
    select
        *,
        row_number() over (partition by asset order by abs(hourly_return) desc, hour) as rank
    from period_moves
),

final as (
    select
        ranked.asset,
        ranked.rank,
        ranked.hour,
        ranked.hourly_return,
        ranked.high_low_range,
        ranked."open",
        ranked."close",
        ranked.total_amount,
        ranked.long_amount,
        ranked.short_amount,
        ranked.long_amount / nullif(ranked.total_amount, 0) as long_share,
        ranked.total_amount / nullif(period_liquidations.period_amount, 0) as share_of_period
    from ranked
    left join period_liquidations on period_liquidations.asset = ranked.asset
    where ranked.rank <= {{ top_moves }}
    order by ranked.asset, ranked.rank
)

select * from final
