-- every hour of the report period [report_start, report_end) lies in a complete window, for every asset
-- the report asks for (var 'assets': one that was never landed is all gap; without it, every asset landed);
-- a warning, because the report shows gaps as missing rather than failing
{{ config(severity='warn') }}

with covered_hours as (select * from {{ ref('int_covered_hours') }}),

landed_assets as (
{%- if var("assets", "") %}
    select unnest(string_split('{{ var("assets") }}', ',')) as asset
{%- else %}
    select distinct asset
    from covered_hours
{%- endif %}
),

period_hours as (
    select unnest(range(
        timestamp '{{ var("report_start") }}', timestamp '{{ var("report_end") }}', interval 1 hour
    )) as hour
),

final as (
    select landed_assets.asset, period_hours.hour as missing_hour
    from landed_assets
    cross join period_hours
    anti join covered_hours
        on covered_hours.asset = landed_assets.asset
        and covered_hours.hour = period_hours.hour
    order by landed_assets.asset, period_hours.hour
)

select * from final
