-- one row per asset × covered hour of the report period, with a robust z-score of its liquidated USD
-- Robust: z = (ln(1 + usd) - median) / (1.4826 · MAD) over the same asset's covered hours in the 28 days
-- before the hour, so one giant hour does not hide the next one. Only an hour whose 28 days are all covered
-- (672 hours) is tested: near the history's start a z against a few days would not be the stated method.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (
    select *
    from {{ ref('fct_liquidations_hourly') }}
    where hour >= (select history_start from report_window)
),

log_hours as (
    select asset, hour, total_amount, long_amount, short_amount, ln(1 + total_amount) as log_amount
    from hourly
    -- only the report period and its 28-day baseline: a rolling median over years of hours costs seconds
    where hour >= (select report_start - interval 28 day from report_window)
        and hour < (select report_end from report_window)
),

baselines as (
    select
        *,
        median(log_amount) over trailing_28_days as baseline_median,
        mad(log_amount) over trailing_28_days as baseline_mad,
        count(*) over trailing_28_days as baseline_hours
    from log_hours
    window trailing_28_days as (
        partition by asset order by hour
        range between interval 28 day preceding and interval 1 hour preceding
    )
),

final as (
    select
        asset,
        hour,
        total_amount,
        long_amount,
        short_amount,
        exp(baseline_median) - 1 as baseline_median_amount,
        baseline_hours,
        baseline_hours = 28 * 24 as is_testable,
        case
            when baseline_hours = 28 * 24 and baseline_mad > 0
                then (log_amount - baseline_median) / (1.4826 * baseline_mad)
        end as robust_z,
        coalesce(
            baseline_hours = 28 * 24 and baseline_mad > 0
            and (log_amount - baseline_median) / (1.4826 * baseline_mad) >= 3.5,
            false
        ) as is_spike
    from baselines
    where hour >= (select report_start from report_window)
)

select * from final
