-- the newest complete fetch of every window holds exactly the pages and rows its manifest lists: a listed page
-- missing or resized, counts that do not add up, or a window whose rows differ from its count means the
-- landing zone changed after the fetch (or two writers met); that window is not used (no current fetch)
-- and the build fails. Fix: `liqreport fetch --refresh` for the window named.

with windows as (select * from {{ ref('stg_landing_windows') }}),

landed_rows as (select * from {{ ref('stg_liquidation_rows') }}),

rows_found as (
    select fetch_id, asset, "interval", "window", count(*) as rows_found
    from landed_rows
    group by all
),

final as (
    select
        windows.asset,
        windows."interval",
        windows."window",
        windows.fetch_id,
        windows.fetch_page_count,
        windows.pages_found,
        windows.pages_missing,
        windows.pages_resized,
        windows.row_count,
        coalesce(rows_found.rows_found, 0) as rows_found
    from windows
    left join rows_found
        on rows_found.asset = windows.asset
        and rows_found."interval" = windows."interval"
        and rows_found."window" = windows."window"
        and rows_found.fetch_id = windows.fetch_id
    where windows.is_newest
        and (not windows.pages_match_manifest or coalesce(rows_found.rows_found, 0) <> windows.row_count)
)

select * from final
