-- one row per asset × interval × interval_start × exchange: the rows' `exchanges` lists unnested
-- (`exchanges: null` or `[]` gives no rows). fetch_id is the lineage: the fetch of the stg_liquidations row.
-- Incremental on the hour: a build unnests only the hours whose stg_liquidations row comes from a fetch this
-- table has not taken that hour from (a new or re-fetched window; an hour without exchanges is looked at
-- again each build and gives no rows); the post_hook removes the hours whose row left stg_liquidations or
-- now comes from another fetch that has no exchanges. A full refresh unnests every row; both give one table.
{{ config(
    materialized='incremental',
    unique_key=['asset', '"interval"', 'interval_start'],
    incremental_strategy='delete+insert',
    post_hook="{% if is_incremental() %}
        delete from {{ this }} as kept
        where not exists (
            select 1 from {{ ref('stg_liquidations') }} as liquidations
            where liquidations.asset = kept.asset
                and liquidations.\"interval\" = kept.\"interval\"
                and liquidations.interval_start = kept.interval_start
                and liquidations.fetch_id = kept.fetch_id
        )
    {% endif %}"
) }}

with liquidations as (select * from {{ ref('stg_liquidations') }}),
{%- if is_incremental() %}

-- hours whose row this table has not unnested from that row's fetch
changed_rows as (
    select liquidations.*
    from liquidations
    anti join (select distinct asset, "interval", interval_start, fetch_id from {{ this }}) as kept
        on kept.asset = liquidations.asset
        and kept."interval" = liquidations."interval"
        and kept.interval_start = liquidations.interval_start
        and kept.fetch_id = liquidations.fetch_id
),
{%- else %}

changed_rows as (select * from liquidations),
{%- endif %}

unnested as (
    select
        asset,
        "interval",
        interval_start,
        fetch_id,
        unnest(exchanges) as by_exchange
    from changed_rows
),

final as (
    select
        asset,
        "interval",
        interval_start,
        by_exchange.exchange,
        {{ liquidation_measures('by_exchange.') }},
        fetch_id
    from unnested
)

select * from final
