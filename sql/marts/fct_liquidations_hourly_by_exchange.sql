-- one row per asset × exchange × hour: every covered hour for every exchange the asset has anywhere,
-- zero where that exchange reported nothing (the API omits exchanges without events). fetch_id: the hour's
-- lineage, as in fct_liquidations_hourly (null for a zero hour); week_lineage: the sum of hash(hour, fetch_id)
-- over the asset's covered hours of the hour's ISO week in fct_liquidations_hourly, what an incremental
-- build compares (period_lineage in macros/period_by_exchange.sql).
-- Incremental on asset × hour: a build fills only the hours of the weeks whose lineage this table does not
-- hold (a new or re-fetched window, an hour newly covered or no longer), comparing a few thousand weeks
-- instead of millions of rows, and every hour of an asset whose set of exchanges changed; the post_hooks
-- remove the rows of a week's old lineage left (hours no longer covered, weeks gone) and the exchanges an
-- asset no longer has. A full refresh fills every hour; both give one table (tests/test_incremental.py).
{{ config(
    materialized='incremental',
    unique_key=['asset', 'hour'],
    incremental_strategy='delete+insert',
    post_hook=["{% if is_incremental() %}
        delete from {{ this }} as kept
        where not exists (
            select 1 from ({{ period_lineage(\"date_trunc('week', hour)\", 'week_start') }}) as weeks
            where weeks.asset = kept.asset and weeks.lineage = kept.week_lineage
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

weeks as (
    select asset, week_start, lineage as week_lineage
    from ({{ period_lineage("date_trunc('week', hour)", 'week_start') }})
),
{%- if is_incremental() %}

-- an asset that gained or lost an exchange: each of its hours gets the new set of rows
changed_assets as (
    {{ assets_with_changed_exchanges() }}
),

weeks_to_fill as (
    select weeks.*
    from weeks
    anti join (select distinct asset, week_lineage from {{ this }}) as kept
        on kept.asset = weeks.asset
        and kept.week_lineage = weeks.week_lineage
    union
    select weeks.*
    from weeks
    semi join changed_assets on changed_assets.asset = weeks.asset
),
{%- else %}

weeks_to_fill as (select * from weeks),
{%- endif %}

-- materialized: a few thousand hours a weekly build; inlined, the planner zero-fills every hour first
hours_to_fill as materialized (
    select hourly.asset, hourly.hour, hourly.fetch_id, weeks_to_fill.week_lineage
    from hourly
    inner join weeks_to_fill
        on weeks_to_fill.asset = hourly.asset
        and weeks_to_fill.week_start = date_trunc('week', hourly.hour)
),

calendar as (
    select
        hours_to_fill.asset,
        asset_exchanges.exchange,
        hours_to_fill.hour,
        hours_to_fill.fetch_id,
        hours_to_fill.week_lineage
    from hours_to_fill
    inner join asset_exchanges on asset_exchanges.asset = hours_to_fill.asset
),

final as (
    select
        calendar.asset,
        calendar.exchange,
        calendar.hour,
        {{ coalesce_measures('hourly_by_exchange.') }},
        calendar.fetch_id,
        calendar.week_lineage
    from calendar
    left join hourly_by_exchange
        on hourly_by_exchange.asset = calendar.asset
        and hourly_by_exchange.exchange = calendar.exchange
        and hourly_by_exchange.interval_start = calendar.hour
)

select * from final
