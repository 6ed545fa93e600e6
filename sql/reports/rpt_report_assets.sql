-- one row per asset the report asks for (var 'assets', in the order given; without it, every asset landed),
-- with its coverage of the report period. "The market" in the overview is the assets with coverage.
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

hourly as (select * from {{ ref('fct_liquidations_hourly') }}),

requested as (
{%- if var('assets', '') %}
    select unnest(codes) as asset, generate_subscripts(codes, 1) as position
    from (select string_split('{{ var("assets") }}', ',') as codes)
{%- else %}
    select asset, row_number() over (order by asset) as position
    from (select distinct asset from hourly)
{%- endif %}
),

coverage as (
    select hourly.asset, count(*) as hours_covered
    from hourly
    cross join report_window
    where hourly.hour >= greatest(report_window.report_start, report_window.history_start)
        and hourly.hour < report_window.report_end
    group by hourly.asset
),

final as (
    select
        requested.asset,
        requested.position,
        requested.asset in (select distinct asset from hourly) as is_landed,
        coalesce(coverage.hours_covered, 0) as hours_covered,
        report_window.period_hours as hours_in_period,
        coalesce(coverage.hours_covered, 0) > 0 as is_in_market
    from requested
    cross join report_window
    left join coverage on coverage.asset = requested.asset
)

select * from final
