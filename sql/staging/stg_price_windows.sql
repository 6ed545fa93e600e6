-- one row per complete price fetch (a trades_ohlcv fetch folder with its _manifest.json, architecture §2).
-- is_current = the newest landed fetch of its asset × interval × window among those of the asset's reference
-- instrument; a fetch of another instrument, or a no-access record (outcome 'no_access'), is never current.
{{ config(materialized='table') }}
{%- set landing = var('landing_path') | replace("'", "''") %}
{%- set manifest_glob = landing ~ '/trades_ohlcv/*/*/*/*/_manifest.json' %}
{%- set manifest_columns = {
    'manifest_version': 'bigint', 'source': 'varchar', 'endpoint': 'varchar', 'asset': 'varchar',
    'exchange': 'varchar', 'instrument_class': 'varchar', 'instrument': 'varchar', 'interval': 'varchar',
    'window': 'varchar', 'fetch_id': 'varchar', 'start_time': 'varchar', 'end_time': 'varchar',
    'outcome': 'varchar', 'message': 'varchar', 'fetched_at': 'varchar', 'completed_at': 'varchar',
    'answer_time': 'varchar', 'page_count': 'bigint', 'row_count': 'bigint',
} %}

with reference_instruments as (select * from {{ ref('stg_price_reference_instruments') }}),

manifests as (
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
    -- no price landed (price off, or never fetched): the same columns, no rows
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
        exchange,
        instrument_class,
        instrument,
        "interval",
        cast("window" as date) as "window",
        fetch_id,
        coalesce(source, 'unknown') as source,
        endpoint,
        coalesce(outcome, 'landed') as outcome,
        message,
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

with_reference as (
    select
        renamed.*,
        reference_instruments.asset is not null as is_reference_instrument
    from renamed
    left join reference_instruments
        on reference_instruments.asset = renamed.asset
        and reference_instruments.exchange = renamed.exchange
        and reference_instruments.instrument_class = renamed.instrument_class
        and reference_instruments.instrument = renamed.instrument
),

final as (
    select
        *,
        is_reference_instrument and outcome = 'landed' and row_number() over (
            partition by asset, "interval", "window", is_reference_instrument and outcome = 'landed'
            order by fetch_id desc
        ) = 1 as is_current
    from with_reference
)

select * from final
