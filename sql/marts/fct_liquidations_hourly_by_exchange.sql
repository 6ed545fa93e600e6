-- one row per asset × exchange × hour: every covered hour for every exchange the asset has anywhere,
-- zero where that exchange reported nothing (the API omits exchanges without events).
with covered_hours as (select * from {{ ref('int_covered_hours') }}),

asset_exchanges as (select * from {{ ref('int_asset_exchanges') }}),

by_exchange as (select * from {{ ref('stg_liquidations_by_exchange') }}),

hourly_by_exchange as (
    select *
    from by_exchange
    where "interval" = '1h'
),

calendar as (
    select covered_hours.asset, asset_exchanges.exchange, covered_hours.hour
    from covered_hours
    inner join asset_exchanges on asset_exchanges.asset = covered_hours.asset
),

final as (
    select
        calendar.asset,
        calendar.exchange,
        calendar.hour,
        {{ coalesce_measures('hourly_by_exchange.') }}
    from calendar
    left join hourly_by_exchange
        on hourly_by_exchange.asset = calendar.asset
        and hourly_by_exchange.exchange = calendar.exchange
        and hourly_by_exchange.interval_start = calendar.hour
)

select * from final
