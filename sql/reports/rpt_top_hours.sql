-- one row per asset × hour among the report period's 10 largest, plus any spike hour outside them, with the
-- hour's robust z (rpt_spike_hours) and its exchange breakdown
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

timeline as (select * from {{ ref('rpt_hourly_timeline') }}),

hourly_by_exchange as (select * from {{ ref('fct_liquidations_hourly_by_exchange') }}),

spike_hours as (select * from {{ ref('rpt_spike_hours') }}),

ranked_hours as (
    select
        asset,
        hour,
        total_trades,
        total_amount,
        long_amount,
        short_amount,
        total_amount / sum(total_amount) over (partition by asset) as share_of_period,
        row_number() over (partition by asset order by total_amount desc, hour) as rank
    from timeline
    where total_amount > 0
),

exchange_breakdown as (
    select
        asset,
        hour,
        list({'exchange': exchange, 'total_amount': total_amount} order by total_amount desc, exchange)
            as exchanges,
        arg_max(exchange, total_amount) as top_exchange,
        max(total_amount) as top_exchange_amount
    from hourly_by_exchange
    where total_amount > 0
        and hour >= (select report_start from report_window)
        and hour < (select report_end from report_window)
    group by asset, hour
),

final as (
    select
        ranked_hours.asset,
        ranked_hours.rank,
        ranked_hours.hour,
        ranked_hours.total_trades,
        ranked_hours.total_amount,
        ranked_hours.long_amount,
        ranked_hours.short_amount,
        ranked_hours.long_amount / ranked_hours.total_amount as long_share,
        case when ranked_hours.long_amount >= ranked_hours.short_amount then 'long' else 'short' end
            as dominant_side,
        ranked_hours.share_of_period,
        spike_hours.robust_z,
        coalesce(spike_hours.is_spike, false) as is_spike,
        exchange_breakdown.top_exchange,
        exchange_breakdown.top_exchange_amount / ranked_hours.total_amount as top_exchange_share,
        coalesce(exchange_breakdown.exchanges, []) as exchanges
    from ranked_hours
    left join exchange_breakdown
        on exchange_breakdown.asset = ranked_hours.asset
        and exchange_breakdown.hour = ranked_hours.hour
    left join spike_hours
        on spike_hours.asset = ranked_hours.asset
        and spike_hours.hour = ranked_hours.hour
    where ranked_hours.rank <= 10 or spike_hours.is_spike
)

select * from final
