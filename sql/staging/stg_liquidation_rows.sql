-- one row per data row of the current complete fetch of each window (asset × interval × window), typed and
-- with interval_start normalised: the one read of the landed JSON; later models read this table.
-- Incremental: a build reads only the pages of current fetches it has not loaded yet; a newer fetch of a
-- window replaces that window's rows (delete+insert on the window), and the pre_hook removes the rows of
-- fetches no longer current that no newer fetch replaces (a window whose only fetch was removed from disk). A full refresh reads every
-- current fetch; both give the same table (tests/test_incremental.py).
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
{%- set page_glob = landing_glob('page-*.json') %}
{%- if is_incremental() %}
    {#- the current fetches not loaded yet: their folders' pages are all this build reads -#}
    {%- set unloaded = run_query(
        "select replace(windows.fetch_path, chr(39), chr(39) || chr(39)) || '/page-*.json' from "
        ~ ref('stg_landing_windows') ~ " as windows where windows.is_current and windows.page_count > 0 "
        ~ "and not exists (select 1 from " ~ this ~ " as loaded where loaded.asset = windows.asset "
        ~ "and loaded.\"interval\" = windows.\"interval\" and loaded.\"window\" = windows.\"window\" "
        ~ "and loaded.fetch_id = windows.fetch_id) order by 1") %}
    {%- set page_files = unloaded.rows | map(attribute=0) | list %}
{%- else %}
    {%- set page_files = page_glob if files_exist(page_glob) else [] %}
{%- endif %}

with windows as (
    select *
    from {{ ref('stg_landing_windows') }}
    where is_current
),

landed_pages as (
    {{ read_liquidation_pages(page_files) }}
),

pages as (
    select
        windows.asset,
        windows."interval",
        windows."window",
        windows.fetch_id,
        parse_filename(landed_pages.filename) as page_file,
        cast(landed_pages.answer_time as timestamp) as answer_time,
        windows.is_current as is_current_fetch,
        windows.start_time as window_start_time,
        windows.end_time as window_end_time,
        landed_pages.data
    from landed_pages
    inner join windows on windows.fetch_path = parse_dirpath(landed_pages.filename)
),

landed_rows as (
    select
        asset,
        "interval",
        "window",
        fetch_id,
        page_file,
        answer_time,
        is_current_fetch,
        window_start_time,
        window_end_time,
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
    from with_start
)

select * from final
