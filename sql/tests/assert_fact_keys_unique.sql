-- every fact table and the by-exchange staging model have one row per key (fct_liquidations_hourly_by_exchange,
-- a view, is unique by construction: a left join on the unique keys of the relations checked here)
-- (an incremental build checks the rows it wrote, a full refresh every row: macros/rows_written.sql)
-- (grouped by the key columns themselves: casting millions of keys to text before grouping costs seconds)
with duplicates as (
    select 'fct_liquidations_hourly' as model, asset, null as exchange, hour::varchar as at, count(*) as rows
    from {{ rows_written(ref('fct_liquidations_hourly')) }} group by asset, hour having count(*) > 1
    union all
    select 'fct_liquidations_daily', asset, null, day::varchar, count(*)
    from {{ rows_written(ref('fct_liquidations_daily')) }} group by asset, day having count(*) > 1
    union all
    select 'fct_liquidations_weekly', asset, null, week_start::varchar, count(*)
    from {{ rows_written(ref('fct_liquidations_weekly')) }} group by asset, week_start having count(*) > 1
    union all
    select 'fct_liquidations_daily_by_exchange', asset, exchange, day::varchar, count(*)
    from {{ rows_written(ref('fct_liquidations_daily_by_exchange')) }} group by asset, exchange, day having count(*) > 1
    union all
    select 'fct_liquidations_weekly_by_exchange', asset, exchange, week_start::varchar, count(*)
    from {{ rows_written(ref('fct_liquidations_weekly_by_exchange')) }} group by asset, exchange, week_start having count(*) > 1
    union all
    select 'stg_liquidations_by_exchange', asset, exchange, "interval" || ' ' || interval_start::varchar, count(*)
    from {{ rows_written(ref('stg_liquidations_by_exchange')) }} group by asset, exchange, "interval", interval_start having count(*) > 1
),

final as (
    select * from duplicates
)

select * from final
