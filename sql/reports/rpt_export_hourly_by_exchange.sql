-- one row per asset × exchange × hour over the hourly export's hours (the report period and the 12 weeks
-- before it), for every exchange the asset has anywhere: covered = false with no measures where the hour is
-- missing, zeros where the exchange had none (fct_liquidations_hourly_by_exchange over these hours, filled here
-- from the exchanges' own rows: the view would hash every row of the history to fill a few weeks)
{{ config(materialized='table') }}

with hourly as (select * from {{ ref('rpt_export_hourly') }}),

-- only the export's hours
by_exchange as (
    select *
    from {{ ref('stg_liquidations_by_exchange') }}
    where "interval" = '1h'
        and interval_start between (select min(hour) from hourly) and (select max(hour) from hourly)
),

asset_exchanges as (select * from {{ ref('int_asset_exchanges') }}),

final as (
    select
        hourly.asset,
        asset_exchanges.exchange,
        hourly.hour,
        hourly.covered,
        {{ covered_measures('by_exchange.', 'hourly.covered') }}
    from hourly
    inner join asset_exchanges on asset_exchanges.asset = hourly.asset
    left join by_exchange
        on by_exchange.asset = hourly.asset
        and by_exchange.exchange = asset_exchanges.exchange
        and by_exchange.interval_start = hourly.hour
)

select * from final
