-- one row per landed page of a complete fetch (pages of a folder without a manifest are ignored).
-- Reading it parses the JSON: stg_liquidation_rows is the one model that does, everything else reads that.
-- Numbers are typed here: the JSON reader casts numeric strings ("703") and refuses non-numeric ones.
{{ config(materialized='view') }}
{%- set landing = var('landing_path') | replace("'", "''") %}
{%- set page_glob = landing ~ '/liquidation_token/*/*/*/*/page-*.json' %}
{%- set row_type = 'struct(interval_time varchar, interval_timestamp bigint, ' ~ typed_measures()
                   ~ ', exchanges struct(exchange varchar, ' ~ typed_measures() ~ ')[])' %}

with windows as (select * from {{ ref('stg_landing_windows') }}),

landed_pages as (
{%- if files_exist(page_glob) %}
    select *
    from read_json(
        '{{ page_glob }}',
        format = 'unstructured',
        filename = true,
        hive_partitioning = false,
        maximum_object_size = 33554432,
        columns = {answer_time: 'varchar', data: '{{ row_type }}[]'}
    )
{%- else %}
    select null::varchar as answer_time, null::{{ row_type }}[] as data, null::varchar as filename
    where false
{%- endif %}
),

final as (
    select
        windows.asset,
        windows."interval",
        windows."window",
        windows.fetch_id,
        windows.source,
        parse_filename(landed_pages.filename) as page_file,
        cast(landed_pages.answer_time as timestamp) as answer_time,
        len(landed_pages.data) as row_count,
        windows.is_current as is_current_fetch,
        windows.start_time as window_start_time,
        windows.end_time as window_end_time,
        landed_pages.data
    from landed_pages
    inner join windows on windows.fetch_path = parse_dirpath(landed_pages.filename)
)

select * from final
