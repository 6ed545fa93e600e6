-- one row: the first screen's figures for the market (the report's assets with coverage in the period) —
-- how much, which side, where, and how unusual: the rank among the fully covered weeks from the first whole
-- week of the endpoint's history to the report's week (with how many weeks that span holds), and a
-- robust z-score of ln(1 + USD) against the fully covered weeks among the 12 before (median and MAD ×
-- 1.4826; at least 8 such weeks). Both only for an ISO week that is itself fully covered. The z measures the
-- week's total only: a week of cross-asset cascades can have a usual total, so it is "ordinary" only when its
-- total is within ±2, every hour could be tested for spikes, no hour saw two or more assets spike together
-- (the asset, in a one-asset report) and it is not among the 3 largest.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

report_assets as (select * from {{ ref('rpt_report_assets') }}),

periods as (select * from {{ ref('rpt_market_periods') }}),

weeks as (select * from {{ ref('rpt_market_weeks') }}),

exchanges as (select * from {{ ref('rpt_overview_exchanges') }}),

asset_summary as (
    select *
    from {{ ref('rpt_weekly_summary') }}
    where asset in (select asset from report_assets where is_in_market)
),

timeline as (
    select *
    from {{ ref('rpt_hourly_timeline') }}
    where asset in (select asset from report_assets where is_in_market)
),

joint_spikes as (select * from {{ ref('rpt_cross_asset_spikes') }}),

largest_joint_spike as (select hour, total_amount from joint_spikes where rank = 1),

-- a spike needs the asset's full 28 days before the hour (rpt_spike_hours.is_testable): hours in which at least two market assets (the
-- one, in a one-asset report) could be tested, and in which that many spiked
spike_test_hours as (
    select
        hour,
        count(*) filter (where is_testable) as assets_tested,
        count(*) filter (where is_spike) as assets_spiking
    from {{ ref('rpt_spike_hours') }}
    where asset in (select asset from report_assets where is_in_market)
    group by hour
),

spike_testing as (
    select
        count(*) filter (where assets_tested >= least(2, market.assets)) as joint_spike_hours_tested,
        count(*) filter (where assets_spiking >= least(2, market.assets)) as market_spike_hours
    from spike_test_hours
    cross join (select count(*) as assets from report_assets where is_in_market) as market
),

current_period as (select * from periods where period_index = 0),

previous_period as (select * from periods where period_index = 1 and is_fully_covered),

trailing_average as (
    select avg(total_amount) as total_amount, count(*) as periods_in_average
    from periods
    where period_index between 1 and 4 and is_fully_covered
),

leading_asset as (
    select asset, total_amount
    from asset_summary
    where total_amount > 0
    order by total_amount desc, asset
    limit 1
),

leading_exchange as (
    select exchange, total_amount, share
    from exchanges
    where total_amount > 0 and rank = 1
),

market_hours as (
    select
        hour,
        sum(total_amount) as total_amount,
        sum(long_amount) as long_amount,
        arg_max(asset, total_amount) as leading_asset
    from timeline
    where is_covered
    group by hour
),

biggest_hour as (
    select hour, total_amount, long_amount / total_amount as long_share, leading_asset
    from market_hours
    where total_amount > 0
    order by total_amount desc, hour
    limit 1
),

market_days as (
    select cast(hour as date) as day, sum(total_amount) as total_amount
    from timeline
    where is_covered
    group by cast(hour as date)
),

biggest_day as (
    select day, total_amount
    from market_days
    where total_amount > 0
    order by total_amount desc, day
    limit 1
),

report_week as (
    select weeks.*
    from weeks
    cross join report_window
    where weeks.is_report_week and report_window.is_iso_week and weeks.is_fully_covered
),

ranking as (
    select
        1 + count(*) filter (where weeks.is_fully_covered and weeks.total_amount > report_week.total_amount)
            as week_rank,
        count(*) filter (where weeks.is_fully_covered) as weeks_ranked,
        count(*) as weeks_since_history_start,
        any_value(report_window.first_full_week_start) as first_ranked_week
    from weeks
    cross join report_week
    cross join report_window
    where weeks.week_start >= report_window.first_full_week_start
    group by report_week.week_start  -- no row at all when the report week is not ranked
),

baseline as (
    select
        median(ln(1 + total_amount)) as log_median,
        mad(ln(1 + total_amount)) as log_mad,
        count(*) as weeks_in_baseline
    from weeks
    where weeks_before_report between 1 and 12 and is_fully_covered
),

long_share_before as (
    select median(long_share) as long_share_median
    from weeks
    where weeks_before_report between 1 and 11 and is_fully_covered
),

unusualness as (
    select
        case
            when baseline.weeks_in_baseline >= 8 and baseline.log_mad > 0
                then (ln(1 + report_week.total_amount) - baseline.log_median) / (1.4826 * baseline.log_mad)
        end as robust_z,
        exp(baseline.log_median) - 1 as baseline_median_amount,
        baseline.weeks_in_baseline
    from report_week
    cross join baseline
),

final as (
    select
        report_window.report_start,
        report_window.report_end,
        report_window.period_hours as hours_in_period,
        report_window.is_iso_week,
        (select count(*) from report_assets) as assets_requested,
        (select count(*) from report_assets where is_in_market) as assets_covered,
        (select count(*) from report_assets where hours_covered = hours_in_period) as assets_fully_covered,
        coalesce((select sum(hours_covered) from report_assets), 0) as asset_hours_covered,
        (select count(*) from report_assets) * report_window.period_hours as asset_hours_expected,
        current_period.total_trades,
        current_period.total_amount,
        current_period.long_trades,
        current_period.long_amount,
        current_period.short_trades,
        current_period.short_amount,
        current_period.long_amount / nullif(current_period.total_amount, 0) as long_share,
        long_share_before.long_share_median as long_share_median_11w,
        case when current_period.total_trades > 0 and current_period.total_amount > 0
            then current_period.total_amount / current_period.total_trades end as average_size,
        previous_period.total_amount as previous_total_amount,
        current_period.total_amount / nullif(previous_period.total_amount, 0) - 1 as change_vs_last_week,
        trailing_average.total_amount as trailing_4w_average,
        coalesce(trailing_average.periods_in_average, 0) as periods_in_average,
        current_period.total_amount / nullif(trailing_average.total_amount, 0) - 1 as change_vs_4w_avg,
        leading_asset.asset as leading_asset,
        leading_asset.total_amount / nullif(current_period.total_amount, 0) as leading_asset_share,
        leading_exchange.exchange as leading_exchange,
        leading_exchange.share as leading_exchange_share,
        biggest_hour.hour as biggest_hour,
        biggest_hour.total_amount as biggest_hour_amount,
        biggest_hour.long_share as biggest_hour_long_share,
        biggest_hour.leading_asset as biggest_hour_leading_asset,
        biggest_day.day as biggest_day,
        biggest_day.total_amount as biggest_day_amount,
        ranking.week_rank,
        ranking.weeks_ranked,
        ranking.first_ranked_week,
        ranking.weeks_since_history_start,
        unusualness.robust_z,
        unusualness.baseline_median_amount,
        coalesce(unusualness.weeks_in_baseline, 0) as weeks_in_baseline,
        case
            when unusualness.robust_z >= 3.5 then 'far above usual'
            when unusualness.robust_z >= 2 then 'above usual'
            when unusualness.robust_z <= -3.5 then 'far below usual'
            when unusualness.robust_z <= -2 then 'below usual'
            when unusualness.robust_z is not null then 'usual'
        end as unusualness,
        (select count(*) from joint_spikes) as joint_spike_hours,
        coalesce(spike_testing.joint_spike_hours_tested, 0) as joint_spike_hours_tested,
        largest_joint_spike.hour as largest_joint_spike_hour,
        largest_joint_spike.total_amount as largest_joint_spike_amount,
        coalesce(
            abs(unusualness.robust_z) < 2 and ranking.week_rank > 3
            and spike_testing.joint_spike_hours_tested = report_window.period_hours
            and spike_testing.market_spike_hours = 0,
            false
        ) as is_ordinary_week
    from report_window
    cross join current_period
    left join previous_period on true
    left join trailing_average on true
    left join leading_asset on true
    left join leading_exchange on true
    left join biggest_hour on true
    left join biggest_day on true
    left join ranking on true
    left join unusualness on true
    left join long_share_before on true
    left join largest_joint_spike on true
    left join spike_testing on true
)

select * from final
