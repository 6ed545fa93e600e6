-- one row per asset × exchange active in the report period or the period before it
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly_by_exchange as (
    select *
    from {{ ref('fct_liquidations_hourly_by_exchange') }}
    where hour >= (select history_start from report_window)
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
        asset,
        exchange,
        coalesce(total_trades, 0) as total_trades,
        coalesce(total_amount, 0) as total_amount,
        coalesce(long_amount, 0) as long_amount,
        coalesce(short_amount, 0) as short_amount,
        coalesce(previous_total_amount, 0) as previous_total_amount
    from by_period
    where coalesce(total_amount, 0) > 0 or coalesce(previous_total_amount, 0) > 0
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
        total_amount / nullif(previous_total_amount, 0) - 1 as change_vs_last_week,
        case
            when previous_total_amount = 0 then 'new'
            when total_amount = 0 then 'absent'
            else 'active'
        end as status,
        row_number() over (partition by asset order by total_amount desc, previous_total_amount desc, exchange)
            as rank
    from active
)

select * from final
