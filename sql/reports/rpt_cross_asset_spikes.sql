-- one row per hour of the report period in which two or more market assets spiked together (each one's
-- robust z ≥ 3.5 against its own trailing 28 days, rpt_spike_hours), with the market's USD and side that hour
{{ config(materialized='table') }}

with market_assets as (select asset from {{ ref('rpt_report_assets') }} where is_in_market),

spike_hours as (
    select *
    from {{ ref('rpt_spike_hours') }}
    where asset in (select asset from market_assets)
),

timeline as (
    select *
    from {{ ref('rpt_hourly_timeline') }}
    where asset in (select asset from market_assets)
),

market_total as (select sum(total_amount) as total_amount from timeline),

joint_spikes as (
    select
        hour,
        count(*) as spiked_assets,
        list(asset order by total_amount desc, asset) as assets,
        sum(total_amount) as spiked_amount,
        max(robust_z) as max_robust_z
    from spike_hours
    where is_spike
    group by hour
    having count(*) >= 2
),

market_hours as (
    select
        hour,
        sum(total_amount) as total_amount,
        sum(long_amount) as long_amount,
        sum(short_amount) as short_amount
    from timeline
    where hour in (select hour from joint_spikes)
    group by hour
),

final as (
    select
        row_number() over (order by market_hours.total_amount desc, joint_spikes.hour) as rank,
        joint_spikes.hour,
        joint_spikes.spiked_assets,
        joint_spikes.assets,
        joint_spikes.spiked_amount,
        joint_spikes.max_robust_z,
        market_hours.total_amount,
        market_hours.long_amount,
        market_hours.short_amount,
        market_hours.long_amount / nullif(market_hours.total_amount, 0) as long_share,
        case when market_hours.long_amount >= market_hours.short_amount then 'long' else 'short' end
            as dominant_side,
        market_hours.total_amount / nullif((select total_amount from market_total), 0) as share_of_period
    from joint_spikes
    inner join market_hours on market_hours.hour = joint_spikes.hour
)

select * from final
