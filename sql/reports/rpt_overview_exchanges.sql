-- one row per exchange active in the report period or the one before, summed over the market (the report's
-- assets with coverage): the market-wide "where", long and short side by side. As per asset, the comparison
-- and the 'new' badge need the period before fully covered for every market asset, 'absent' the report period.
{{ config(materialized='table') }}

with market_assets as (select asset from {{ ref('rpt_report_assets') }} where is_in_market),

market_periods as (select * from {{ ref('rpt_market_periods') }}),

coverage as (
    select
        coalesce(bool_or(is_fully_covered) filter (where period_index = 0), false) as is_fully_covered,
        coalesce(bool_or(is_fully_covered) filter (where period_index = 1), false) as previous_is_fully_covered
    from market_periods
),

exchange_share as (
    select *
    from {{ ref('rpt_exchange_share') }}
    where asset in (select asset from market_assets)
),

by_exchange as (
    select
        exchange,
        sum(total_trades) as total_trades,
        sum(total_amount) as total_amount,
        sum(long_amount) as long_amount,
        sum(short_amount) as short_amount,
        sum(previous_landed_amount) as previous_landed_amount,
        count(*) filter (where total_amount > 0) as assets_active
    from exchange_share
    group by exchange
),

compared as (
    select
        by_exchange.*,
        case when coverage.previous_is_fully_covered then previous_landed_amount end as previous_total_amount,
        coverage.is_fully_covered,
        coverage.previous_is_fully_covered
    from by_exchange
    cross join coverage
),

final as (
    select
        exchange,
        total_trades,
        total_amount,
        long_amount,
        short_amount,
        total_amount / nullif(sum(total_amount) over (), 0) as share,
        long_amount / nullif(total_amount, 0) as long_share,
        case when total_trades > 0 and total_amount > 0 then total_amount / total_trades end as average_size,
        previous_total_amount,
        total_amount / nullif(previous_total_amount, 0) - 1 as change_vs_last_week,
        assets_active,
        case
            when not previous_is_fully_covered then 'not compared'
            when previous_total_amount = 0 then 'new'
            when total_amount = 0 and is_fully_covered then 'absent'
            when total_amount = 0 then 'not compared'
            else 'active'
        end as status,
        row_number() over (order by total_amount desc, previous_landed_amount desc, exchange) as rank
    from compared
)

select * from final
