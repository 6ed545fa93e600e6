-- one row per asset × exchange × UTC day of the report period, for exchanges with liquidations in the period;
-- share_of_exchange_week is the day's part of that exchange's period, so a small venue's pattern shows as well
-- as a large one's
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly_by_exchange as (
    select *
    from {{ ref('fct_liquidations_hourly_by_exchange') }}
    where hour >= (select greatest(report_start, history_start) from report_window)
        and hour < (select report_end from report_window)
),

exchange_share as (select * from {{ ref('rpt_exchange_share') }}),

by_day as (
    select
        asset,
        exchange,
        cast(hour as date) as day,
        sum(total_trades) as total_trades,
        sum(total_amount) as total_amount,
        sum(long_amount) as long_amount,
        sum(short_amount) as short_amount
    from hourly_by_exchange
    group by asset, exchange, cast(hour as date)
),

final as (
    select
        by_day.asset,
        by_day.exchange,
        exchange_share.rank as exchange_rank,
        by_day.day,
        by_day.total_trades,
        by_day.total_amount,
        by_day.long_amount,
        by_day.short_amount,
        by_day.total_amount / nullif(sum(by_day.total_amount) over (partition by by_day.asset, by_day.exchange), 0)
            as share_of_exchange_week,
        -- the exchange's own largest day of the period (the earliest of ties)
        by_day.day = arg_max(by_day.day, by_day.total_amount) over (partition by by_day.asset, by_day.exchange)
            and by_day.total_amount > 0 as is_exchange_peak_day
    from by_day
    inner join exchange_share
        on exchange_share.asset = by_day.asset
        and exchange_share.exchange = by_day.exchange
    where exchange_share.total_amount > 0
)

select * from final
