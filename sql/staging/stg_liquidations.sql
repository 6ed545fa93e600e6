-- one row per asset × interval × interval_start, from the current complete fetches; where windows overlap
-- (clipped differently) or a row repeats across pages, the newest fetch wins.
-- Materialized: this is the one read of the landed JSON; every later model reads this table.
{{ config(materialized='table') }}

with pages as (select * from {{ ref('stg_liquidation_pages') }}),

landed_rows as (
    select
        asset,
        "interval",
        "window",
        fetch_id,
        page_file,
        unnest(data) as landed
    from pages
    where is_current_fetch
),

typed as (
    select
        asset,
        "interval",
        "window",
        fetch_id,
        page_file,
        cast(landed.interval_timestamp as bigint) as interval_timestamp,
        cast(landed.interval_time as timestamp) as interval_time,
        cast(landed.total_trades as bigint) as total_trades,
        cast(landed.total_amount as double) as total_amount,
        cast(landed.long_trades as bigint) as long_trades,
        cast(landed.long_amount as double) as long_amount,
        cast(landed.short_trades as bigint) as short_trades,
        cast(landed.short_amount as double) as short_amount,
        landed.exchanges
    from landed_rows
),

-- Kaiko's docs say milliseconds, the liquidation payloads carry nanoseconds, other endpoints seconds:
-- the magnitude tells them apart for any date between 1973 and 5138.
normalised as (
    select
        *,
        case
            when abs(interval_timestamp) >= 100000000000000000 then 'ns'
            when abs(interval_timestamp) >= 100000000000000 then 'us'
            when abs(interval_timestamp) >= 100000000000 then 'ms'
            when interval_timestamp is not null then 's'
        end as timestamp_unit
    from typed
),

with_start as (
    select
        *,
        coalesce(
            make_timestamp(case timestamp_unit
                when 'ns' then interval_timestamp // 1000
                when 'us' then interval_timestamp
                when 'ms' then interval_timestamp * 1000
                when 's' then interval_timestamp * 1000000
            end),
            interval_time
        ) as interval_start
    from normalised
),

final as (
    select
        asset,
        "interval",
        interval_start,
        interval_time,
        interval_timestamp,
        timestamp_unit,
        total_trades,
        total_amount,
        long_trades,
        long_amount,
        short_trades,
        short_amount,
        exchanges,
        "window",
        fetch_id,
        page_file
    from with_start
    qualify row_number() over (
        partition by asset, "interval", interval_start order by fetch_id desc, page_file desc
    ) = 1
)

select * from final
