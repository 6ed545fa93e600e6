-- one row per complete fetch, from stg_landing_fetches (its manifest checked against the page files on disk).
-- is_newest = the newest complete fetch of its asset × interval × window; is_current = is_newest and its
-- pages are on disk exactly as the manifest lists them (names and byte counts, nothing missing or extra)
-- and its counts add up (page_count pages, row_count = the pages' rows).
-- A window whose newest fetch disagrees with its manifest has no current fetch: it is missing coverage,
-- never summed, and assert_landing_matches_manifests fails the build. Incomplete fetches have no manifest
-- and never appear here.
-- Materialized: a few thousand rows that several models read; recomputed each build from the fetches.
{{ config(materialized='table') }}

with fetches as (select * from {{ ref('stg_landing_fetches') }}),

checked as (
    select
        *,
        row_number() over (partition by asset, "interval", "window" order by fetch_id desc) = 1 as is_newest
    from fetches
),

final as (
    select *, is_newest and pages_match_manifest as is_current
    from checked
)

select * from final
