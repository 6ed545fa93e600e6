-- a complete fetch holds as many rows and pages as its manifest says it landed
{{ config(severity='warn') }}

with windows as (select * from {{ ref('stg_landing_windows') }}),

pages as (select * from {{ ref('stg_liquidation_pages') }}),

page_totals as (
    select fetch_id, asset, "interval", "window", count(*) as pages, sum(row_count) as rows
    from pages
    group by all
),

final as (
    select
        windows.asset,
        windows."interval",
        windows."window",
        windows.fetch_id,
        windows.page_count,
        page_totals.pages as pages_found,
        windows.row_count,
        page_totals.rows as rows_found
    from windows
    left join page_totals
        on page_totals.asset = windows.asset
        and page_totals."interval" = windows."interval"
        and page_totals."window" = windows."window"
        and page_totals.fetch_id = windows.fetch_id
    where coalesce(page_totals.pages, 0) <> windows.page_count
        or coalesce(page_totals.rows, 0) <> windows.row_count
)

select * from final
