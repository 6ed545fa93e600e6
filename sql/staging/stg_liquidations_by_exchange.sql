-- one row per asset × interval × interval_start × exchange: the `exchanges` list of each stg_liquidations row
-- unnested (`exchanges: null` or `[]` gives no rows), read from the landed row that stg_liquidations kept
-- (stg_liquidation_rows, by window, fetch_id, page_file and page_row). fetch_id is the lineage: the fetch of the
-- stg_liquidations row; "window" that row's window, window_lineage the sum of hash(interval_start, fetch_id) over
-- the window's stg_liquidations rows (with or without exchanges): what an incremental build compares.
-- Incremental on the window: a build unnests only the windows whose lineage this table does not hold (a new
-- or re-fetched window, an hour that moved between overlapping windows; a window whose hours have no
-- exchanges is looked at again each build and gives no rows), comparing a few thousand windows instead of
-- millions of rows; the post_hook removes the rows whose window lineage is no longer stg_liquidations' (a
-- window that left it, or one whose new rows have no exchanges: its batch wrote no key to replace them). A full
-- refresh unnests every row; both give one table (tests/test_incremental.py).
{{ config(
    materialized='incremental',
    unique_key=['asset', '"interval"', '"window"'],
    incremental_strategy='delete+insert',
    post_hook="{% if is_incremental() %}
        delete from {{ this }} as kept
        where not exists (
            select 1
            from ({{ window_lineage() }}) as windows
            where windows.asset = kept.asset
                and windows.\"interval\" = kept.\"interval\"
                and windows.\"window\" = kept.\"window\"
                and windows.window_lineage = kept.window_lineage
        )
    {% endif %}"
) }}

with liquidations as (select * from {{ ref('stg_liquidations') }}),

window_lineage as (
    {{ window_lineage() }}  -- the model, not the CTE: read twice, DuckDB would materialize it
),
{%- if is_incremental() %}

-- windows whose lineage this table does not hold
changed_windows as (
    select window_lineage.*
    from window_lineage
    anti join (select distinct asset, "interval", "window", window_lineage from {{ this }}) as kept
        on kept.asset = window_lineage.asset
        and kept."interval" = window_lineage."interval"
        and kept."window" = window_lineage."window"
        and kept.window_lineage = window_lineage.window_lineage
),
{%- else %}

changed_windows as (select * from window_lineage),
{%- endif %}

-- the rows stg_liquidations kept in those windows: which landed row each one is
kept_rows as (
    select
        liquidations.asset,
        liquidations."interval",
        liquidations."window",
        liquidations.fetch_id,
        liquidations.page_file,
        liquidations.page_row,
        changed_windows.window_lineage
    from liquidations
    inner join changed_windows
        on changed_windows.asset = liquidations.asset
        and changed_windows."interval" = liquidations."interval"
        and changed_windows."window" = liquidations."window"
),
{%- if is_incremental() %}

-- the landed rows of the changed windows. A weekly build changes a few windows: a semi join builds on those and
-- narrows the scan of stg_liquidation_rows to the row groups holding them (joined to kept_rows alone, the planner
-- hashed every landed row, lists and all, to probe a few thousand: 0.3 s instead of 0.07 s)
landed_rows as (
    select *
    from {{ ref('stg_liquidation_rows') }} as landed
    semi join changed_windows
        on changed_windows.asset = landed.asset
        and changed_windows."interval" = landed."interval"
        and changed_windows."window" = landed."window"
),
{%- else %}

landed_rows as (select * from {{ ref('stg_liquidation_rows') }}),
{%- endif %}

-- their lists: the landed rows stg_liquidations kept
winners as (
    select landed_rows.*, kept_rows.window_lineage
    from landed_rows
    inner join kept_rows
        on kept_rows.asset = landed_rows.asset
        and kept_rows."interval" = landed_rows."interval"
        and kept_rows."window" = landed_rows."window"
        and kept_rows.fetch_id = landed_rows.fetch_id
        and kept_rows.page_file = landed_rows.page_file
        and kept_rows.page_row = landed_rows.page_row
),

unnested as (
    select
        asset,
        "interval",
        interval_start,
        fetch_id,
        "window",
        window_lineage,
        unnest(exchanges) as by_exchange
    from winners
),

final as (
    select
        asset,
        "interval",
        interval_start,
        by_exchange.exchange,
        {{ liquidation_measures('by_exchange.') }},
        fetch_id,
        "window",
        window_lineage
    from unnested
)

select * from final
