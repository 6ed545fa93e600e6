-- one row per complete price fetch × window it marks complete (a trades_ohlcv fetch folder with its
-- _manifest.json, version 3: one range a fetch, architecture §2), and one row per no-access record (outcome
-- 'no_access', the 403 of a key without trade data: no pages, no windows; "window" null, start/end the range
-- it was refused). start_time/end_time: the window's landed range; row_count its rows; window_pages the pages
-- holding them. pages_match_manifest: those pages are on disk with the bytes the manifest lists, and the
-- fetch's counts add up (as stg_landing_windows checks the liquidation pages).
-- is_newest = the newest landed fetch of its asset × interval × window among those of the asset's reference
-- instrument; is_current = is_newest and pages_match_manifest: an older fetch never stands in for a newest one
-- whose pages are gone. A fetch of another instrument, or a no-access record, is never current.
{{ config(materialized='table') }}
{%- set root = var('landing_path') | replace("'", "''") ~ '/trades_ohlcv/*/*/*/' %}
{%- set window_type = 'struct("window" varchar, start_time varchar, end_time varchar, "rows" bigint, pages varchar[])' %}
{%- set manifest_columns = {
    'manifest_version': 'bigint', 'source': 'varchar', 'api_root': 'varchar', 'endpoint': 'varchar',
    'asset': 'varchar', 'exchange': 'varchar', 'instrument_class': 'varchar', 'instrument': 'varchar',
    'interval': 'varchar', 'fetch_id': 'varchar', 'start_time': 'varchar', 'end_time': 'varchar',
    'outcome': 'varchar', 'message': 'varchar', 'fetched_at': 'varchar', 'completed_at': 'varchar',
    'answer_time': 'varchar', 'page_count': 'bigint', 'row_count': 'bigint',
    'pages': 'struct(file varchar, bytes bigint, "rows" bigint)[]', 'windows': window_type ~ '[]',
} %}
{%- set has_manifests = files_exist(root ~ '_manifest.json') %}

with reference_instruments as (select * from {{ ref('stg_price_reference_instruments') }}),

manifests as (
{%- if has_manifests %}
    select *
    from read_json(
        '{{ root }}_manifest.json',
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

-- names and sizes only: read_blob does not read the content when it is not selected
page_files as (
{%- if has_manifests and files_exist(root ~ 'page-*.json') %}
    select parse_dirpath(filename) as fetch_path, parse_filename(filename) as page_file, size as bytes
    from read_blob('{{ root }}page-*.json')
{%- else %}
    select null::varchar as fetch_path, null::varchar as page_file, null::bigint as bytes
    where false
{%- endif %}
),

listed_pages as (
    select parse_dirpath(filename) as fetch_path, unnest(pages, recursive := true)
    from manifests
),

found_pages as (
    select
        listed_pages.fetch_path,
        list(listed_pages.file) filter (where page_files.bytes = listed_pages.bytes) as found_pages,
        count(*) as pages_listed,
        sum(listed_pages."rows") as rows_listed
    from listed_pages
    left join page_files
        on page_files.fetch_path = listed_pages.fetch_path
        and page_files.page_file = listed_pages.file
    group by listed_pages.fetch_path
),

fetches as (
    select
        manifests.*,
        parse_dirpath(manifests.filename) as fetch_path,
        coalesce(manifests.outcome, 'landed') as landed_outcome,
        coalesce(found_pages.found_pages, []) as found_pages,
        coalesce(found_pages.pages_listed, 0) = manifests.page_count
            and coalesce(found_pages.rows_listed, 0) = manifests.row_count as counts_add_up
    from manifests
    left join found_pages on found_pages.fetch_path = parse_dirpath(manifests.filename)
),

fetch_windows as (
    select *, unnest(windows) as landed
    from fetches
    where landed_outcome = 'landed'
),

no_access_records as (
    select
        *,
        null::{{ window_type }} as landed
    from fetches
    where landed_outcome = 'no_access'
),

renamed as (
    select
        asset,
        exchange,
        instrument_class,
        instrument,
        "interval",
        cast(landed."window" as date) as "window",
        fetch_id,
        coalesce(source, 'unknown') as source,
        api_root,
        endpoint,
        landed_outcome as outcome,
        message,
        cast(coalesce(landed.start_time, start_time) as timestamp) as start_time,
        cast(coalesce(landed.end_time, end_time) as timestamp) as end_time,
        cast(fetched_at as timestamp) as fetched_at,
        cast(completed_at as timestamp) as completed_at,
        cast(answer_time as timestamp) as answer_time,
        coalesce(len(landed.pages), 0) as page_count,
        coalesce(landed.pages, []) as window_pages,
        coalesce(landed."rows", 0) as row_count,
        page_count as fetch_page_count,
        row_count as fetch_row_count,
        manifest_version,
        fetch_path,
        counts_add_up and list_has_all(found_pages, coalesce(landed.pages, [])) as pages_match_manifest
    from (
        select * from fetch_windows
        union all by name
        select * from no_access_records
    )
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

ranked as (
    select
        *,
        is_reference_instrument and outcome = 'landed' and row_number() over (
            partition by asset, "interval", "window", is_reference_instrument and outcome = 'landed'
            order by fetch_id desc
        ) = 1 as is_newest
    from with_reference
),

final as (
    select *, is_newest and pages_match_manifest as is_current
    from ranked
)

select * from final
