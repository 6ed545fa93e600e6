-- one row per page a complete fetch's manifest lists (pages of a folder without a manifest, or files its
-- manifest does not list, are ignored). Which window a row belongs to is stg_liquidation_rows' business.
-- Reading it parses the JSON: stg_liquidation_rows is the one model that does, everything else reads that.
-- Numbers are typed here: the JSON reader casts numeric strings ("703") and refuses non-numeric ones.
{{ config(materialized='view') }}
{%- set landing = var('landing_path') | replace("'", "''") %}
{%- set page_glob = landing ~ '/liquidation_token/**/page-*.json' %}
{%- set row_type = 'struct(interval_time varchar, interval_timestamp bigint, ' ~ typed_measures()
                   ~ ', exchanges struct(exchange varchar, ' ~ typed_measures() ~ ')[])' %}

with fetches as (select * from {{ ref('stg_landing_fetches') }}),

windows as (select * from {{ ref('stg_landing_windows') }}),

-- a page's fetch is current when it is the current fetch of at least one of its windows
current_fetches as (
    select fetch_path, bool_or(is_current) as is_current_fetch
    from windows
    group by fetch_path
),

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
        fetches.asset,
        fetches."interval",
        fetches.fetch_id,
        fetches.fetch_path,
        fetches.single_window,
        fetches.source,
        parse_filename(landed_pages.filename) as page_file,
        cast(landed_pages.answer_time as timestamp) as answer_time,
        len(landed_pages.data) as row_count,
        coalesce(current_fetches.is_current_fetch, false) as is_current_fetch,
        landed_pages.data
    from landed_pages
    inner join fetches
        on fetches.fetch_path = parse_dirpath(landed_pages.filename)
        and list_contains(fetches.listed_pages, parse_filename(landed_pages.filename))
    left join current_fetches on current_fetches.fetch_path = fetches.fetch_path
)

select * from final
