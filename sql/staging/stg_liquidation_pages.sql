-- one row per page a complete fetch's manifest lists (pages of a folder without a manifest, or files its
-- manifest does not list, are ignored). Which window a row belongs to is stg_liquidation_rows' business.
-- Reading it parses every landed page's JSON: for a look at the pages, not for the build (stg_liquidation_rows
-- reads only the pages of the windows it has not loaded yet, through the same macro). A view reads its files
-- when queried, so it reads them by a glob: a list fixed at build time fails once a listed page is deleted. A
-- cut-off page left by a killed fetch fails a query of it until the next fetch removes the page; no build
-- reads this view.
{{ config(materialized='view') }}

with fetches as (select * from {{ ref('stg_landing_fetches') }}),

windows as (select * from {{ ref('stg_landing_windows') }}),

-- a page's fetch is current when it is the current fetch of at least one of its windows
current_fetches as (
    select fetch_path, bool_or(is_current) as is_current_fetch
    from windows
    group by fetch_path
),

landed_pages as (
    {{ read_liquidation_pages(landed_globs('page-*.json')) }}
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
