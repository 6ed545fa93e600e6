-- one row per asset × exchange × hour: every covered hour for every exchange the asset has anywhere,
-- zero where that exchange reported nothing (the API omits exchanges without events). fetch_id: the hour's
-- lineage, as in fct_liquidations_hourly (null for a zero hour).
-- Incremental on asset × hour: a build fills only the hours whose (hour, fetch_id) this table does not hold
-- (a new or re-fetched window, an hour newly covered), and every hour of an asset whose set of exchanges
-- changed; the post_hook removes the hours no longer covered (or from another fetch now) and the exchanges an
-- asset no longer has. A full refresh fills every hour; both give one table (tests/test_incremental.py).
{{ config(
    materialized='incremental',
    unique_key=['asset', 'hour'],
    incremental_strategy='delete+insert',
    post_hook=["{% if is_incremental() %}
        delete from {{ this }} as kept
        where not exists (
            select 1 from {{ ref('fct_liquidations_hourly') }} as hourly
            where hourly.asset = kept.asset
                and hourly.hour = kept.hour
                and hourly.fetch_id is not distinct from kept.fetch_id
        )
    {% endif %}", "{% if is_incremental() %}
        delete from {{ this }} as kept
        where not exists (
            select 1 from {{ ref('int_asset_exchanges') }} as asset_exchanges
            where asset_exchanges.asset = kept.asset and asset_exchanges.exchange = kept.exchange
        )
    {% endif %}"]
) }}

with hourly as (select * from {{ ref('fct_liquidations_hourly') }}),

asset_exchanges as (select * from {{ ref('int_asset_exchanges') }}),

by_exchange as (select * from {{ ref('stg_liquidations_by_exchange') }}),

hourly_by_exchange as (
    select *
    from by_exchange
    where "interval" = '1h'
),
{%- if is_incremental() %}

built_hours as (select distinct asset, hour, fetch_id from {{ this }}),

-- an asset that gained or lost an exchange: each of its hours gets the new set of rows
changed_assets as (
    select distinct asset
    from (
        (select asset, exchange from asset_exchanges except select distinct asset, exchange from {{ this }})
        union all
        (select distinct asset, exchange from {{ this }} except select asset, exchange from asset_exchanges)
    )
),

hours_to_fill as (
    select hourly.asset, hourly.hour, hourly.fetch_id
    from hourly
    anti join built_hours
        on built_hours.asset = hourly.asset
        and built_hours.hour = hourly.hour
        and built_hours.fetch_id is not distinct from hourly.fetch_id
    union
    select hourly.asset, hourly.hour, hourly.fetch_id
    from hourly
    semi join changed_assets on changed_assets.asset = hourly.asset
),
{%- else %}

hours_to_fill as (select asset, hour, fetch_id from hourly),
{%- endif %}

calendar as (
    select hours_to_fill.asset, asset_exchanges.exchange, hours_to_fill.hour, hours_to_fill.fetch_id
    from hours_to_fill
    inner join asset_exchanges on asset_exchanges.asset = hours_to_fill.asset
),

final as (
    select
        calendar.asset,
        calendar.exchange,
        calendar.hour,
        {{ coalesce_measures('hourly_by_exchange.') }},
        calendar.fetch_id
    from calendar
    left join hourly_by_exchange
        on hourly_by_exchange.asset = calendar.asset
        and hourly_by_exchange.exchange = calendar.exchange
        and hourly_by_exchange.interval_start = calendar.hour
)

select * from final
