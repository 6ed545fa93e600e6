-- one row per asset: the report period's headline figures and their comparison bases
-- Changes use only fully covered base periods: a half-fetched week would fake a jump.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (
    select *
    from {{ ref('fct_liquidations_hourly') }}
    where hour >= (select history_start from report_window)
),

-- only the report period is read by exchange: narrowed here, the scan skips the rest of the history
hourly_by_exchange as (
    select *
    from {{ ref('fct_liquidations_hourly_by_exchange') }}
    where hour >= (select greatest(report_start, history_start) from report_window)
        and hour < (select report_end from report_window)
),

assets as (select distinct asset from {{ ref('fct_liquidations_hourly') }}),

-- period_index 0 is the report period, 1 the period before it, … 4 four periods back
hourly_in_periods as (
    select
        hourly.*,
        report_window.period_hours,
        cast(floor(
            datediff('hour', hourly.hour, report_window.report_end - interval 1 hour)
            / report_window.period_hours
        ) as integer) as period_index
    from hourly
    cross join report_window
    where hourly.hour < report_window.report_end
        and hourly.hour >= report_window.report_start - 4 * (report_window.report_end - report_window.report_start)
),

period_totals as (
    select
        asset,
        period_index,
        sum(total_amount) as total_amount,
        count(*) as hours_covered,
        count(*) = any_value(period_hours) as is_fully_covered
    from hourly_in_periods
    group by asset, period_index
),

current_period as (
    select
        asset,
        {{ sum_measures() }},
        count(*) as hours_covered,
        count(*) filter (where has_data) as hours_with_data,
        arg_max(hour, total_amount) filter (where total_amount > 0) as biggest_hour,
        max(total_amount) filter (where total_amount > 0) as biggest_hour_amount,
        arg_max(long_amount, total_amount) filter (where total_amount > 0) as biggest_hour_long_amount
    from hourly_in_periods
    where period_index = 0
    group by asset
),

daily_in_period as (
    select asset, cast(hour as date) as day, sum(total_amount) as total_amount
    from hourly_in_periods
    where period_index = 0
    group by asset, cast(hour as date)
),

biggest_day as (
    select
        asset,
        arg_max(day, total_amount) as biggest_day,
        max(total_amount) as biggest_day_amount
    from daily_in_period
    where total_amount > 0
    group by asset
),

exchange_totals as (
    select hourly_by_exchange.asset, hourly_by_exchange.exchange, sum(hourly_by_exchange.total_amount) as total_amount
    from hourly_by_exchange
    cross join report_window
    where hourly_by_exchange.hour >= report_window.report_start
        and hourly_by_exchange.hour < report_window.report_end
    group by hourly_by_exchange.asset, hourly_by_exchange.exchange
),

dominant_exchange as (
    select
        asset,
        arg_max(exchange, total_amount) as dominant_exchange,
        max(total_amount) / sum(total_amount) as dominant_exchange_share
    from exchange_totals
    where total_amount > 0
    group by asset
),

-- a cross-venue wave lights most exchanges within a day of the biggest day (a cascade that spans midnight
-- peaks on two days); a local event is carried by one or two venues
exchange_days as (
    select hourly_by_exchange.asset, hourly_by_exchange.exchange, cast(hourly_by_exchange.hour as date) as day,
        sum(hourly_by_exchange.total_amount) as total_amount
    from hourly_by_exchange
    cross join report_window
    where hourly_by_exchange.hour >= report_window.report_start
        and hourly_by_exchange.hour < report_window.report_end
    group by all
),

exchange_peaks as (
    select asset, exchange, arg_max(day, total_amount) as peak_day
    from exchange_days
    where total_amount > 0
    group by asset, exchange
),

biggest_day_venues as (
    select
        exchange_days.asset,
        exchange_days.exchange,
        exchange_days.total_amount,
        exchange_days.total_amount / nullif(sum(exchange_days.total_amount) over (partition by exchange_days.asset), 0)
            as share_of_day,
        row_number() over (partition by exchange_days.asset order by exchange_days.total_amount desc,
                           exchange_days.exchange) as venue_rank
    from exchange_days
    inner join biggest_day
        on biggest_day.asset = exchange_days.asset
        and biggest_day.biggest_day = exchange_days.day
),

top_venues as (
    select
        asset,
        list(exchange order by venue_rank) as top_venues_on_biggest_day,
        sum(share_of_day) as top_venues_share_of_biggest_day
    from biggest_day_venues
    where venue_rank <= 2 and total_amount > 0
    group by asset
),

exchange_waves as (
    select
        exchange_peaks.asset,
        count(*) as exchanges_active,
        count(*) filter (where exchange_peaks.peak_day = biggest_day.biggest_day) as exchanges_peaking_on_biggest_day,
        count(*) filter (where abs(datediff('day', exchange_peaks.peak_day, biggest_day.biggest_day)) <= 1)
            as exchanges_peaking_near_biggest_day
    from exchange_peaks
    inner join biggest_day on biggest_day.asset = exchange_peaks.asset
    group by exchange_peaks.asset
),

spike_counts as (
    select asset, count(*) filter (where is_spike) as spike_hours
    from {{ ref('rpt_spike_hours') }}
    group by asset
),

previous_period as (
    select asset, total_amount, hours_covered, is_fully_covered
    from period_totals
    where period_index = 1
),

trailing_average as (
    select
        asset,
        avg(total_amount) filter (where is_fully_covered) as total_amount,
        count(*) filter (where is_fully_covered) as periods_in_average
    from period_totals
    where period_index between 1 and 4
    group by asset
),

final as (
    select
        assets.asset,
        {{ coalesce_measures('current_period.') }},
        current_period.long_amount / nullif(current_period.total_amount, 0) as long_share,
        case when current_period.total_trades > 0 and current_period.total_amount > 0
            then current_period.total_amount / current_period.total_trades end as average_size,
        case when previous_period.is_fully_covered then previous_period.total_amount end
            as previous_total_amount,
        coalesce(previous_period.hours_covered, 0) as previous_hours_covered,
        current_period.total_amount / nullif(
            case when previous_period.is_fully_covered then previous_period.total_amount end, 0
        ) - 1 as change_vs_last_week,
        trailing_average.total_amount as trailing_4w_average,
        coalesce(trailing_average.periods_in_average, 0) as periods_in_average,
        current_period.total_amount / nullif(trailing_average.total_amount, 0) - 1 as change_vs_4w_avg,
        biggest_day.biggest_day,
        biggest_day.biggest_day_amount,
        current_period.biggest_hour,
        current_period.biggest_hour_amount,
        current_period.biggest_hour_long_amount / nullif(current_period.biggest_hour_amount, 0)
            as biggest_hour_long_share,
        coalesce(spike_counts.spike_hours, 0) as spike_hours,
        coalesce(exchange_waves.exchanges_active, 0) as exchanges_active,
        coalesce(exchange_waves.exchanges_peaking_on_biggest_day, 0) as exchanges_peaking_on_biggest_day,
        coalesce(exchange_waves.exchanges_peaking_near_biggest_day, 0) as exchanges_peaking_near_biggest_day,
        top_venues.top_venues_on_biggest_day,
        top_venues.top_venues_share_of_biggest_day,
        -- most of at least 3 venues peaking within a day of the biggest is a market-wide cascade
        coalesce(exchange_waves.exchanges_active >= 3
                 and 2 * exchange_waves.exchanges_peaking_near_biggest_day > exchange_waves.exchanges_active, false)
            as is_cross_venue_wave,
        -- otherwise "concentrated" only when one or two venues carried most of the biggest day
        coalesce(exchange_waves.exchanges_active >= 3
                 and 2 * exchange_waves.exchanges_peaking_near_biggest_day <= exchange_waves.exchanges_active
                 and top_venues.top_venues_share_of_biggest_day > 0.5, false)
            as is_concentrated_on_few_venues,
        dominant_exchange.dominant_exchange,
        dominant_exchange.dominant_exchange_share,
        coalesce(current_period.hours_covered, 0) as hours_covered,
        coalesce(current_period.hours_with_data, 0) as hours_with_data,
        report_window.period_hours as hours_in_period
    from assets
    cross join report_window
    left join current_period on current_period.asset = assets.asset
    left join previous_period on previous_period.asset = assets.asset
    left join trailing_average on trailing_average.asset = assets.asset
    left join biggest_day on biggest_day.asset = assets.asset
    left join dominant_exchange on dominant_exchange.asset = assets.asset
    left join spike_counts on spike_counts.asset = assets.asset
    left join exchange_waves on exchange_waves.asset = assets.asset
    left join top_venues on top_venues.asset = assets.asset
)

select * from final
