-- one row per asset × exchange × hour over the hourly export's hours (the report period and the 12 weeks
-- before it), for every exchange the asset has anywhere: covered = false with no measures where the hour is
-- missing, zeros where the exchange had none
{{ config(materialized='table') }}

with hourly as (select * from {{ ref('rpt_export_hourly') }}),

-- only the export's hours: the join otherwise hashes every hour of the history
by_exchange as (
    select *
    from {{ ref('fct_liquidations_hourly_by_exchange') }}
    where hour between (select min(hour) from hourly) and (select max(hour) from hourly)
),

asset_exchanges as (select * from {{ ref('int_asset_exchanges') }}),

final as (
    select
        hourly.asset,
        asset_exchanges.exchange,
        hourly.hour,
        hourly.covered,
        {{ liquidation_measures('by_exchange.') }}
    from hourly
    inner join asset_exchanges on asset_exchanges.asset = hourly.asset
    left join by_exchange
        on by_exchange.asset = hourly.asset
        and by_exchange.exchange = asset_exchanges.exchange
        and by_exchange.hour = hourly.hour
)

select * from final
