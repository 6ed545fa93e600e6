-- one row per data row of every landed page of a complete fetch (older fetches included), typed and with
-- interval_start normalised. Materialized: the one read of the landed JSON; later models read this table.
-- A row belongs to the window of its fetch that holds its hour (the ISO week of interval_start; a version
-- 1–2 fetch has one window, which keeps its stray rows too), current when that window is.
{{ config(materialized='table') }}

with pages as (select * from {{ ref('stg_liquidation_pages') }}),

windows as (select * from {{ ref('stg_landing_windows') }}),

landed_rows as (
    select
        asset,
        "interval",
        fetch_id,
        fetch_path,
        single_window,
        page_file,
        answer_time,
        unnest(data) as landed
    from pages
),

-- Kaiko's docs say milliseconds, the liquidation payloads carry nanoseconds, other endpoints seconds:
-- the magnitude tells them apart for any date between 1973 and 5138.
with_unit as (
    select
        *,
        case
            when abs(landed.interval_timestamp) >= 100000000000000000 then 'ns'
            when abs(landed.interval_timestamp) >= 100000000000000 then 'us'
            when abs(landed.interval_timestamp) >= 100000000000 then 'ms'
            when landed.interval_timestamp is not null then 's'
        end as timestamp_unit
    from landed_rows
),

with_start as (
    select
        *,
        coalesce(
            make_timestamp(case timestamp_unit
                when 'ns' then landed.interval_timestamp // 1000
                when 'us' then landed.interval_timestamp
                when 'ms' then landed.interval_timestamp * 1000
                when 's' then landed.interval_timestamp * 1000000
            end),
            cast(landed.interval_time as timestamp)
        ) as interval_start
    from with_unit
),

with_window as (
    select
        with_start.*,
        coalesce(with_start.single_window, cast(date_trunc('week', with_start.interval_start) as date))
            as "window"
    from with_start
),

in_windows as (
    select
        with_window.*,
        coalesce(windows.is_current, false) as is_current_fetch,
        windows.start_time as window_start_time,
        windows.end_time as window_end_time
    from with_window
    left join windows
        on windows.fetch_path = with_window.fetch_path
        and windows."window" = with_window."window"
),

final as (
    select
        asset,
        "interval",
        interval_start,
        cast(landed.interval_time as timestamp) as interval_time,
        landed.interval_timestamp,
        timestamp_unit,
        {{ liquidation_measures('landed.') }},
        landed.exchanges,
        "window",
        fetch_id,
        page_file,
        answer_time,
        is_current_fetch,
        interval_start >= window_start_time and interval_start < window_end_time as is_inside_window
    from in_windows
)

select * from final
