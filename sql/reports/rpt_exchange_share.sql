-- one row per asset × exchange active in the report period or the period before it. The comparison with the
-- period before, and the 'new' badge, need that period fully covered: before the history starts (or where a
-- window is missing) an exchange is not new, its base is unknown. 'absent' needs the report period covered.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly_by_exchange as (
    select *
    from {{ ref('fct_liquidations_hourly_by_exchange') }}
    where hour >= (select history_start from report_window)
),

coverage as (
    select
        hourly.asset,
        count(*) filter (where hourly.hour >= report_window.report_start) = any_value(report_window.period_hours)
            as is_fully_covered,
        count(*) filter (where hourly.hour < report_window.report_start) = any_value(report_window.period_hours)
            as previous_is_fully_covered
    from {{ ref('fct_liquidations_hourly') }} as hourly
    cross join report_window
    where hourly.hour >= greatest(report_window.previous_start, report_window.history_start)
        and hourly.hour < report_window.report_end
    group by hourly.asset
),

by_period as (
    select
        hourly_by_exchange.asset,
        hourly_by_exchange.exchange,
        sum(total_trades) filter (where hour >= report_start) as total_trades,
        sum(total_amount) filter (where hour >= report_start) as total_amount,
        sum(long_amount) filter (where hour >= report_start) as long_amount,
        sum(short_amount) filter (where hour >= report_start) as short_amount,
        sum(total_amount) filter (where hour < report_start) as previous_total_amount
    from hourly_by_exchange
    cross join report_window
    where hour >= report_window.previous_start
        and hour < report_window.report_end
    group by hourly_by_exchange.asset, hourly_by_exchange.exchange
),

active as (
    select
        by_period.asset,
        by_period.exchange,
        coalesce(by_period.total_trades, 0) as total_trades,
        coalesce(by_period.total_amount, 0) as total_amount,
        coalesce(by_period.long_amount, 0) as long_amount,
        coalesce(by_period.short_amount, 0) as short_amount,
        case when coverage.previous_is_fully_covered then coalesce(by_period.previous_total_amount, 0) end
            as previous_total_amount,
        coalesce(coverage.is_fully_covered, false) as is_fully_covered,
        coalesce(coverage.previous_is_fully_covered, false) as previous_is_fully_covered,
        coalesce(by_period.previous_total_amount, 0) as previous_landed_amount
    from by_period
    left join coverage on coverage.asset = by_period.asset
    where coalesce(by_period.total_amount, 0) > 0 or coalesce(by_period.previous_total_amount, 0) > 0
),

final as (
    select
        asset,
        exchange,
        total_trades,
        total_amount,
        long_amount,
        short_amount,
        total_amount / nullif(sum(total_amount) over (partition by asset), 0) as share,
        long_amount / nullif(total_amount, 0) as long_share,
        case when total_trades > 0 and total_amount > 0 then total_amount / total_trades end as average_size,
        previous_total_amount,
        previous_landed_amount,  -- what was landed of the period before, covered or not: for the order only
        total_amount / nullif(previous_total_amount, 0) - 1 as change_vs_last_week,
        case
            when not previous_is_fully_covered then 'not compared'
            when previous_total_amount = 0 then 'new'
            when total_amount = 0 and is_fully_covered then 'absent'
            when total_amount = 0 then 'not compared'
            else 'active'
        end as status,
        row_number() over (partition by asset order by total_amount desc, previous_landed_amount desc, exchange)
            as rank
    from active
)

select * from final
