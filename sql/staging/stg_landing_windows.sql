-- one row per complete fetch (a fetch folder with its _manifest.json); is_current = newest complete fetch
-- of its asset × interval × window. Incomplete fetches have no manifest and never appear here.
-- Materialized: a year of weeks is a thousand small files, and several models read this.
{{ config(materialized='table') }}
{%- set landing = var('landing_path') | replace("'", "''") %}
{%- set manifest_glob = landing ~ '/liquidation_token/*/*/*/*/_manifest.json' %}
{%- set manifest_columns = {
    'manifest_version': 'bigint', 'source': 'varchar', 'endpoint': 'varchar', 'asset': 'varchar',
    'interval': 'varchar', 'window': 'varchar', 'fetch_id': 'varchar', 'start_time': 'varchar',
    'end_time': 'varchar', 'fetched_at': 'varchar', 'completed_at': 'varchar', 'answer_time': 'varchar',
    'page_count': 'bigint', 'row_count': 'bigint',
} %}

with manifests as (
{%- if files_exist(manifest_glob) %}
    select *
    from read_json(
        '{{ manifest_glob }}',
        format = 'unstructured',
        filename = true,
        hive_partitioning = false,
        columns = { {%- for name, type in manifest_columns.items() %}"{{ name }}": '{{ type }}'{{ ", " if not loop.last }}{% endfor -%} }
    )
{%- else %}
    -- an empty landing zone: the same columns, no rows
    select
    {%- for name, type in manifest_columns.items() %}
        null::{{ type }} as "{{ name }}",
    {%- endfor %}
        null::varchar as filename
    where false
{%- endif %}
),

renamed as (
    select
        asset,
        "interval",
        cast("window" as date) as "window",
        fetch_id,
        coalesce(source, 'unknown') as source,
        endpoint,
        cast(start_time as timestamp) as start_time,
        cast(end_time as timestamp) as end_time,
        cast(fetched_at as timestamp) as fetched_at,
        cast(completed_at as timestamp) as completed_at,
        cast(answer_time as timestamp) as answer_time,
        page_count,
        row_count,
        manifest_version,
        parse_dirpath(filename) as fetch_path
    from manifests
),

final as (
    select
        *,
        row_number() over (partition by asset, "interval", "window" order by fetch_id desc) = 1 as is_current
    from renamed
)

select * from final
