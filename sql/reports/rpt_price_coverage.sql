-- one row per asset the report asks for: its reference instrument and how much of the report period has a
-- known price. price_status: off (price = false, var price_enabled) | complete (every hour in a complete
-- price window) | partial | no_access (the API answered 403, architecture §2) | not_landed | no_instrument
-- (no [price.<asset>] and no default). The data-quality section says it in words.
{{ config(materialized='table') }}
{%- set price_enabled = 'true' if var('price_enabled', 'true') in ('true', true) else 'false' %}

with report_window as (select * from {{ ref('rpt_report_window') }}),

reference_instruments as (select * from {{ ref('stg_price_reference_instruments') }}),

windows as (select * from {{ ref('stg_price_windows') }}),

hourly as (select * from {{ ref('fct_prices_hourly') }}),

assets as (
{%- if var("assets", "") %}
    select unnest(string_split('{{ var("assets") }}', ',')) as asset
{%- else %}
    select asset
    from reference_instruments
{%- endif %}
),

period_hours as (
    select
        hourly.asset,
        count(*) as hours_price_covered,
        count(*) filter (where hourly.has_price) as hours_with_price,
        count(*) filter (where hourly.is_covered) as hours_covered
    from hourly
    cross join report_window
    where hourly.hour >= report_window.report_start
        and hourly.hour < report_window.report_end
    group by hourly.asset
),

no_access as (
    select
        windows.asset,
        arg_max(windows.message, windows.fetch_id) as access_message
    from windows
    cross join report_window
    where windows.outcome = 'no_access'
        and windows.is_reference_instrument
        and windows.start_time < report_window.report_end
        and windows.end_time > report_window.report_start
    group by windows.asset
),

final as (
    select
        assets.asset,
        reference_instruments.exchange,
        reference_instruments.instrument_class,
        reference_instruments.instrument,
        report_window.period_hours as hours_in_period,
        coalesce(period_hours.hours_price_covered, 0) as hours_price_covered,
        coalesce(period_hours.hours_with_price, 0) as hours_with_price,
        coalesce(period_hours.hours_covered, 0) as hours_covered,
        case
            when not {{ price_enabled }} then 'off'
            when reference_instruments.asset is null then 'no_instrument'
            when period_hours.hours_price_covered = report_window.period_hours then 'complete'
            when period_hours.hours_price_covered > 0 then 'partial'
            when no_access.asset is not null then 'no_access'
            else 'not_landed'
        end as price_status,
        no_access.access_message
    from assets
    cross join report_window
    left join reference_instruments on reference_instruments.asset = assets.asset
    left join period_hours on period_hours.asset = assets.asset
    left join no_access on no_access.asset = assets.asset
    order by assets.asset
)

select * from final
