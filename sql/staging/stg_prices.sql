-- one row per asset × interval × interval_start from the current price windows (stg_price_windows), typed:
-- Kaiko sends open/high/low/close/volume as strings (the JSON reader casts numeric strings and refuses
-- others), null when nothing traded. A row is read from a page its window's manifest lists, and only inside
-- that window: a fetch's pages landed after its last manifest, and windows superseded by a newer fetch, are
-- never read. Where a row still repeats (windows clipped differently), the newest fetch wins.
{{ config(materialized='table') }}
{%- set bar_type = 'struct("timestamp" bigint, "open" double, high double, low double, "close" double, '
                   ~ 'volume double)' %}
{#- the pages the current windows' manifests list (a page landed after the last rewrite is never read) -#}
{%- set page_files = listed_page_files(ref('stg_price_windows'), 'window_pages', 'windows.is_current') %}

with windows as (select * from {{ ref('stg_price_windows') }}),

landed_pages as (
{%- if page_files %}
    select *
    from read_json(
        {{ sql_list(page_files) }},
        format = 'unstructured',
        filename = true,
        hive_partitioning = false,
        maximum_object_size = 33554432,
        columns = {data: '{{ bar_type }}[]'}
    )
{%- else %}
    select null::{{ bar_type }}[] as data, null::varchar as filename
    where false
{%- endif %}
),

current_rows as (
    select
        windows.asset,
        windows.exchange,
        windows.instrument_class,
        windows.instrument,
        windows."interval",
        windows."window",
        windows.fetch_id,
        windows.start_time as window_start_time,
        windows.end_time as window_end_time,
        parse_filename(landed_pages.filename) as page_file,
        unnest(landed_pages.data) as landed
    from landed_pages
    inner join windows
        on windows.fetch_path = parse_dirpath(landed_pages.filename)
        and list_contains(windows.window_pages, parse_filename(landed_pages.filename))
    where windows.is_current
),

-- Kaiko documents milliseconds for OHLCV; the magnitude tells ns/us/ms/s apart for any date 1973–5138,
-- as for the liquidation rows
with_start as (
    select
        *,
        make_timestamp(case
            when abs(landed."timestamp") >= 100000000000000000 then landed."timestamp" // 1000
            when abs(landed."timestamp") >= 100000000000000 then landed."timestamp"
            when abs(landed."timestamp") >= 100000000000 then landed."timestamp" * 1000
            else landed."timestamp" * 1000000
        end) as interval_start
    from current_rows
),

final as (
    select
        asset,
        "interval",
        interval_start,
        exchange,
        instrument_class,
        instrument,
        landed."open" as "open",
        landed.high as high,
        landed.low as low,
        landed."close" as "close",
        landed.volume as volume,
        landed."close" is not null as has_trades,
        "window",
        fetch_id,
        page_file
    from with_start
    where interval_start >= window_start_time
        and interval_start < window_end_time
    qualify row_number() over (
        partition by asset, "interval", interval_start
        order by fetch_id desc, page_file desc
    ) = 1
)

select * from final
