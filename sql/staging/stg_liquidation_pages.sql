-- one row per landed page of a complete fetch (pages of a folder without a manifest are ignored).
-- Reading it parses every landed page's JSON: for a look at the pages, not for the build (stg_liquidation_rows
-- reads only the pages of fetches it has not loaded yet, through the same macro).
{{ config(materialized='view') }}
{%- set landing = var('landing_path') | replace("'", "''") %}
{%- set page_glob = landing ~ '/liquidation_token/*/*/*/*/page-*.json' %}

with windows as (select * from {{ ref('stg_landing_windows') }}),

landed_pages as (
    {{ read_liquidation_pages(page_glob if files_exist(page_glob) else []) }}
),

final as (
    select
        windows.asset,
        windows."interval",
        windows."window",
        windows.fetch_id,
        windows.source,
        parse_filename(landed_pages.filename) as page_file,
        cast(landed_pages.answer_time as timestamp) as answer_time,
        len(landed_pages.data) as row_count,
        windows.is_current as is_current_fetch,
        windows.start_time as window_start_time,
        windows.end_time as window_end_time,
        landed_pages.data
    from landed_pages
    inner join windows on windows.fetch_path = parse_dirpath(landed_pages.filename)
)

select * from final
