-- one row per asset × hour inside a current complete 1h window: the calendar the hourly facts fill.
-- Facts are hourly, so only interval=1h landings count here (the report fetches 1h). Hours before
-- history_start() (the endpoint's first hour) are not covered: missing, not zero.
with windows as (select * from {{ ref('stg_landing_windows') }}),

current_windows as (
    select asset, start_time, end_time
    from windows
    where is_current and "interval" = '1h'
),

hours as (
    select distinct
        asset,
        unnest(range(date_trunc('hour', start_time), end_time, interval 1 hour)) as hour
    from current_windows
),

final as (
    select asset, hour
    from hours
    -- before the endpoint's history starts an empty answer means "no coverage", not zero liquidations
    where hour >= {{ history_start() }}
)

select * from final
