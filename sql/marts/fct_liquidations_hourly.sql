-- one row per asset × hour, only hours inside complete windows: an hour the API omitted inside a complete
-- window had no liquidations (zero row, has_data = false); an hour outside every window is absent = missing.
-- fetch_id: the fetch the hour's row came from (null for a zero hour), the lineage incremental facts compare.
with covered_hours as (select * from {{ ref('int_covered_hours') }}),

liquidations as (select * from {{ ref('stg_liquidations') }}),

hourly as (
    select *
    from liquidations
    where "interval" = '1h'
),

final as (
    select
        covered_hours.asset,
        covered_hours.hour,
        {{ coalesce_measures('hourly.') }},
        hourly.asset is not null as has_data,
        hourly.fetch_id
    from covered_hours
    left join hourly
        on hourly.asset = covered_hours.asset
        and hourly.interval_start = covered_hours.hour
)

select * from final
