-- one row per page a complete fetch's manifest lists and that is on disk as listed (pages of a folder without a
-- manifest, files its manifest does not list, and listed pages missing or resized are ignored). Which window a row belongs to is stg_liquidation_rows' business.
-- Reading it parses every landed page's JSON: for a look at the pages, not for the build (stg_liquidation_rows
-- reads only the pages of the windows it has not loaded yet, through the same macro).
{{ config(materialized='view') }}
{%- set page_files = listed_page_files(ref('stg_landing_fetches'), 'found_pages') %}

with fetches as (select * from {{ ref('stg_landing_fetches') }}),

windows as (select * from {{ ref('stg_landing_windows') }}),

-- a page's fetch is current when it is the current fetch of at least one of its windows
current_fetches as (
    select fetch_path, bool_or(is_current) as is_current_fetch
    from windows
    group by fetch_path
),

landed_pages as (
    {{ read_liquidation_pages(page_files) }}
),

final as (
    select
        fetches.asset,
        fetches."interval",
        fetches.fetch_id,
        fetches.fetch_path,
        fetches.single_window,
        fetches.source,
        parse_filename(landed_pages.filename) as page_file,
        cast(landed_pages.answer_time as timestamp) as answer_time,
        len(landed_pages.data) as row_count,
        coalesce(current_fetches.is_current_fetch, false) as is_current_fetch,
        landed_pages.data
    from landed_pages
    inner join fetches
        on fetches.fetch_path = parse_dirpath(landed_pages.filename)
        and list_contains(fetches.listed_pages, parse_filename(landed_pages.filename))
    left join current_fetches on current_fetches.fetch_path = fetches.fetch_path
)

select * from final
