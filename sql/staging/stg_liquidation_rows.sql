-- one row per data row of the current complete fetch of each window (asset × interval × window), typed and
-- with interval_start normalised: the one read of the landed JSON; later models read this table.
-- page_row is the row's place in its page (1, 2, …): with fetch_id and page_file, what names one landed row, so
-- stg_liquidations_by_exchange finds the `exchanges` list of the row stg_liquidations kept. exchanges_trades and
-- exchanges_amount are what that list adds up to (null for a null or empty list), summed as the page is parsed
-- (free beside the parse) for assert_exchanges_sum_to_totals.
-- A row belongs to the window of its fetch that holds its hour (the ISO week of interval_start; a version
-- 1–2 fetch has one window, which keeps its stray rows too); only pages a manifest lists are read, so a
-- page spanning two weeks of a range gives each week its own rows.
-- Incremental: a build reads only the pages of current windows it has not loaded yet; a newer fetch of a
-- window replaces that window's rows (delete+insert on the window), and the pre_hook removes the rows of
-- fetches no longer current that no newer fetch replaces (a window whose only fetch was removed from disk).
-- A full refresh reads every current window; both give the same table (tests/test_incremental.py).
{{ config(
    materialized='incremental',
    unique_key=['asset', '"interval"', '"window"'],
    incremental_strategy='delete+insert',
    pre_hook="{% if is_incremental() %}
        delete from {{ this }} as loaded
        where not exists (
            select 1 from {{ ref('stg_landing_windows') }} as windows
            where windows.is_current
                and windows.asset = loaded.asset
                and windows.\"interval\" = loaded.\"interval\"
                and windows.\"window\" = loaded.\"window\"
                and windows.fetch_id = loaded.fetch_id
        )
    {% endif %}"
) }}
{#- the pages this build reads, by name: those the current windows' manifests list (a page landed after its
    manifest's last rewrite, whole or cut off by a kill, is never read), incrementally only those of windows not
    loaded yet -#}
{%- set not_loaded = "" %}
{%- if is_incremental() %}
    {%- set not_loaded = " and not exists (select 1 from " ~ this ~ " as loaded where loaded.asset = windows.asset "
        ~ "and loaded.\"interval\" = windows.\"interval\" and loaded.\"window\" = windows.\"window\" "
        ~ "and loaded.fetch_id = windows.fetch_id)" %}
{%- endif %}
{%- set page_files = listed_page_files(ref('stg_landing_windows'), 'window_pages',
                                       'windows.is_current and windows.row_count > 0' ~ not_loaded) %}

with fetches as (select * from {{ ref('stg_landing_fetches') }}),

windows as (
    select *
    from {{ ref('stg_landing_windows') }}
    where is_current
),
{%- if is_incremental() %}

windows_to_load as (
    select windows.*
    from windows
    anti join (select distinct asset, "interval", "window", fetch_id from {{ this }}) as loaded
        on loaded.asset = windows.asset
        and loaded."interval" = windows."interval"
        and loaded."window" = windows."window"
        and loaded.fetch_id = windows.fetch_id
),
{%- else %}

windows_to_load as (select * from windows),
{%- endif %}

landed_pages as (
    {{ read_liquidation_pages(page_files) }}
),

-- the listed pages only: a page landed after its manifest's last rewrite is nobody's
pages as (
    select
        fetches.asset,
        fetches."interval",
        fetches.fetch_id,
        fetches.fetch_path,
        fetches.single_window,
        parse_filename(landed_pages.filename) as page_file,
        cast(landed_pages.answer_time as timestamp) as answer_time,
        landed_pages.data
    from landed_pages
    inner join fetches
        on fetches.fetch_path = parse_dirpath(landed_pages.filename)
        and list_contains(fetches.listed_pages, parse_filename(landed_pages.filename))
),

landed_rows as (
    select
        asset,
        "interval",
        fetch_id,
        fetch_path,
        single_window,
        page_file,
        answer_time,
        unnest(data) as landed,
        generate_subscripts(data, 1) as page_row
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
        *,
        coalesce(single_window, cast(date_trunc('week', interval_start) as date)) as "window"
    from with_start
),

-- a row is kept when its window is a current one of its fetch (and, incrementally, not loaded yet)
in_windows as (
    select
        with_window.*,
        windows_to_load.is_current as is_current_fetch,
        windows_to_load.start_time as window_start_time,
        windows_to_load.end_time as window_end_time
    from with_window
    inner join windows_to_load
        on windows_to_load.fetch_path = with_window.fetch_path
        and windows_to_load."window" = with_window."window"
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
        list_sum([by_exchange.total_trades for by_exchange in landed.exchanges]) as exchanges_trades,
        list_sum([by_exchange.total_amount for by_exchange in landed.exchanges]) as exchanges_amount,
        "window",
        fetch_id,
        page_file,
        page_row,
        answer_time,
        is_current_fetch,
        interval_start >= window_start_time and interval_start < window_end_time as is_inside_window
    from in_windows
)

select * from final
