-- one row per asset × interval × interval_start, from the current complete fetches; where windows overlap
-- (clipped differently) or a row repeats across pages, a row inside its fetch's own range beats one outside
-- it, then the newest fetch wins (then the later page, the later row: a page that repeats an hour).
-- fetch_id, page_file and page_row name the landed row kept: stg_liquidations_by_exchange unnests its
-- `exchanges` list from stg_liquidation_rows (the lists are not copied here; the table holds only the totals and
-- what the list sums to).
-- Incremental on the hour: a build recomputes only the hours of windows whose current fetch it has not
-- seen and the hours whose row came from a fetch no longer current; the post_hook removes such rows that no
-- current row replaced (a window removed from disk). A full refresh dedupes every row; both give one table.
-- depends_on: {{ ref('stg_landing_windows') }}  (read only inside is_incremental(): dbt must see the ref)
{{ config(
    materialized='incremental',
    unique_key=['asset', '"interval"', 'interval_start'],
    incremental_strategy='delete+insert',
    post_hook="{% if is_incremental() %}
        delete from {{ this }} as kept
        where not exists (
            select 1 from {{ ref('stg_landing_windows') }} as windows
            where windows.is_current
                and windows.asset = kept.asset
                and windows.\"interval\" = kept.\"interval\"
                and windows.\"window\" = kept.\"window\"
                and windows.fetch_id = kept.fetch_id
        )
    {% endif %}"
) }}

with landed_rows as (select * from {{ ref('stg_liquidation_rows') }}),
{%- if is_incremental() %}

current_fetches as (
    select asset, "interval", "window", fetch_id
    from {{ ref('stg_landing_windows') }}
    where is_current
),

kept_fetches as (
    select distinct asset, "interval", "window", fetch_id
    from {{ this }}
),

-- hours of windows whose current fetch this table has not taken rows from yet
-- (the model, not the CTE: read twice, DuckDB would materialize the CTE, `exchanges` lists and all)
new_hours as (
    select distinct landed_rows.asset, landed_rows."interval", landed_rows.interval_start
    from {{ ref('stg_liquidation_rows') }} as landed_rows
    semi join (select * from current_fetches except select * from kept_fetches) as new_fetches
        on new_fetches.asset = landed_rows.asset
        and new_fetches."interval" = landed_rows."interval"
        and new_fetches."window" = landed_rows."window"
        and new_fetches.fetch_id = landed_rows.fetch_id
),

-- hours whose row came from a fetch that is no longer current
stale_hours as (
    select kept.asset, kept."interval", kept.interval_start
    from {{ this }} as kept
    anti join current_fetches
        on current_fetches.asset = kept.asset
        and current_fetches."interval" = kept."interval"
        and current_fetches."window" = kept."window"
        and current_fetches.fetch_id = kept.fetch_id
),

touched_hours as (
    select * from new_hours
    union
    select * from stale_hours
),

candidate_rows as (
    select landed_rows.*
    from landed_rows
    semi join touched_hours
        on touched_hours.asset = landed_rows.asset
        and touched_hours."interval" = landed_rows."interval"
        and touched_hours.interval_start = landed_rows.interval_start
),
{%- else %}

candidate_rows as (select * from landed_rows),
{%- endif %}

final as (
    select
        asset,
        "interval",
        interval_start,
        interval_time,
        interval_timestamp,
        timestamp_unit,
        {{ liquidation_measures() }},
        exchanges_trades,
        exchanges_amount,
        "window",
        fetch_id,
        page_file,
        page_row
    from candidate_rows
    where is_current_fetch
    qualify row_number() over (
        partition by asset, "interval", interval_start
        order by is_inside_window desc nulls last, fetch_id desc, page_file desc, page_row desc
    ) = 1
)

select * from final
