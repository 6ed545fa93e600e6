-- the current fetch of every window holds as many data rows as its manifest says it landed
-- (stg_liquidation_rows keeps only current fetches: a superseded fetch's rows have left)
{{ config(severity='warn') }}

with windows as (select * from {{ ref('stg_landing_windows') }}),

landed_rows as (select * from {{ ref('stg_liquidation_rows') }}),

fetch_totals as (
    select fetch_id, asset, "interval", "window", count(*) as rows
    from landed_rows
    group by all
),

final as (
    select
        windows.asset,
        windows."interval",
        windows."window",
        windows.fetch_id,
        windows.row_count,
        fetch_totals.rows as rows_found
    from windows
    left join fetch_totals
        on fetch_totals.asset = windows.asset
        and fetch_totals."interval" = windows."interval"
        and fetch_totals."window" = windows."window"
        and fetch_totals.fetch_id = windows.fetch_id
    where windows.is_current
        and coalesce(fetch_totals.rows, 0) <> windows.row_count
)

select * from final
