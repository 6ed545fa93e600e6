-- one row per asset × exchange × hour: every covered hour for every exchange the asset has anywhere,
-- zero where that exchange reported nothing (the API omits exchanges without events). fetch_id: the hour's
-- lineage, as in fct_liquidations_hourly (null for a zero hour).
-- A view: two years of 50 assets zero-fill to 5 M rows, and every reader wants a few weeks of them (the report
-- period, the export's 13 weeks), so each reader fills only the hours it filters on; the daily and weekly
-- by-exchange facts zero-fill at their own grain (macros/period_by_exchange.sql). Its key is unique and never
-- null by construction: fct_liquidations_hourly is unique on asset × hour, int_asset_exchanges on asset ×
-- exchange, stg_liquidations_by_exchange on its key (each checked by the data tests).
{{ config(materialized='view') }}

with hourly as (select * from {{ ref('fct_liquidations_hourly') }}),

asset_exchanges as (select * from {{ ref('int_asset_exchanges') }}),

by_exchange as (select * from {{ ref('stg_liquidations_by_exchange') }}),

hourly_by_exchange as (
    select *
    from by_exchange
    where "interval" = '1h'
),

final as (
    select
        hourly.asset,
        asset_exchanges.exchange,
        hourly.hour,
        {{ coalesce_measures('hourly_by_exchange.') }},
        hourly.fetch_id
    from hourly
    inner join asset_exchanges on asset_exchanges.asset = hourly.asset
    left join hourly_by_exchange
        on hourly_by_exchange.asset = hourly.asset
        and hourly_by_exchange.exchange = asset_exchanges.exchange
        and hourly_by_exchange.interval_start = hourly.hour
)

select * from final
