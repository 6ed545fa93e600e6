-- one row per complete fetch × window it marks complete (a version 1–2 fetch marks its one window).
-- is_newest = the newest such fetch of its asset × interval × window; is_current = is_newest and the pages
-- holding the window's rows are on disk as the manifest lists them, its counts adding up (a version 1–2
-- window: all of its fetch's pages). A window whose newest fetch disagrees with its manifest has no current
-- fetch: it is missing coverage, never summed, and assert_landing_matches_manifests fails the build. An
-- older fetch never stands in for it.
-- start_time/end_time are the window's landed range; row_count its rows; page_count the pages holding them,
-- window_pages their names.
-- Materialized: a few thousand rows that several models read; recomputed each build from stg_landing_fetches.
{{ config(materialized='table') }}

with fetches as (select * from {{ ref('stg_landing_fetches') }}),

fetch_windows as (
    select *, unnest(windows) as landed
    from fetches
),

renamed as (
    select
        asset,
        "interval",
        cast(landed."window" as date) as "window",
        fetch_id,
        source,
        api_root,
        endpoint,
        cast(landed.start_time as timestamp) as start_time,
        cast(landed.end_time as timestamp) as end_time,
        fetched_at,
        completed_at,
        answer_time,
        coalesce(len(landed.pages), page_count) as page_count,
        coalesce(landed.pages, listed_pages) as window_pages,
        landed."rows" as row_count,
        page_count as fetch_page_count,
        row_count as fetch_row_count,
        manifest_version,
        fetch_path,
        pages_listed,
        rows_listed,
        pages_found,
        pages_missing,
        pages_resized,
        case
            when landed.pages is null then pages_match_manifest
            else counts_add_up and list_has_all(found_pages, landed.pages)
        end as pages_match_manifest
    from fetch_windows
),

checked as (
    select
        *,
        row_number() over (partition by asset, "interval", "window" order by fetch_id desc) = 1 as is_newest
    from renamed
),

final as (
    select *, is_newest and pages_match_manifest as is_current
    from checked
)

select * from final
