-- one row per complete fetch (a fetch folder with its _manifest.json), its manifest checked against the page
-- files on disk when it was first read (names and byte counts, nothing missing or extra; counts adding up).
-- Incomplete fetches have no manifest and never appear here; stg_landing_windows says which fetch is current.
-- Incremental: a complete fetch folder never changes (the manifest is written last), so a build reads only
-- the manifests of folders not in the table yet; a full refresh reads them all.
-- The pre_hook drops fetches whose folder is gone from disk (removed by hand or pruned), as a full refresh would.
{{ config(
    materialized='incremental',
    unique_key=['fetch_path'],
    incremental_strategy='delete+insert',
    pre_hook="{% if is_incremental() %}
        delete from {{ this }}
        where fetch_path not in (select parse_dirpath(file) from glob('{{ landing_glob('_manifest.json') }}'))
    {% endif %}"
) }}
{%- set manifest_glob = landing_glob('_manifest.json') %}
{%- set page_glob = landing_glob('page-*.json') %}
{%- set manifest_columns = {
    'manifest_version': 'bigint', 'source': 'varchar', 'api_root': 'varchar', 'endpoint': 'varchar',
    'asset': 'varchar', 'interval': 'varchar', 'window': 'varchar', 'fetch_id': 'varchar',
    'start_time': 'varchar', 'end_time': 'varchar', 'fetched_at': 'varchar', 'completed_at': 'varchar',
    'answer_time': 'varchar', 'page_count': 'bigint', 'row_count': 'bigint',
    'pages': 'struct(file varchar, sha256 varchar, bytes bigint, "rows" bigint)[]',
} %}
{%- if is_incremental() %}
    {%- set unread = run_query(
        "select replace(file, chr(39), chr(39) || chr(39)) from glob('" ~ manifest_glob ~ "') where parse_dirpath(file) "
        ~ "not in (select fetch_path from " ~ this ~ ") order by 1") %}
    {%- set manifest_files = unread.rows | map(attribute=0) | list %}
    {#- the new folders' pages only: listing every landed page costs more than reading the new manifests -#}
    {%- set page_files = manifest_files | map('replace', '/_manifest.json', '/page-*.json') | list %}
{%- else %}
    {%- set manifest_files = [manifest_glob] if files_exist(manifest_glob) else [] %}
    {%- set page_files = [page_glob] if manifest_files and files_exist(page_glob) else [] %}
{%- endif %}

with manifests as (
{%- if manifest_files %}
    select *
    from read_json(
        [{% for file in manifest_files %}'{{ file }}'{{ ", " if not loop.last }}{% endfor %}],
        format = 'unstructured',
        filename = true,
        hive_partitioning = false,
        columns = { {%- for name, type in manifest_columns.items() %}"{{ name }}": '{{ type }}'{{ ", " if not loop.last }}{% endfor -%} }
    )
{%- else %}
    -- no manifest to read (an empty landing zone, or nothing new): the same columns, no rows
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
{%- if page_files %}
    select parse_dirpath(filename) as fetch_path, parse_filename(filename) as page_file, size as bytes
    from read_blob([{% for file in page_files %}'{{ file }}'{{ ", " if not loop.last }}{% endfor %}])
{%- else %}
    select null::varchar as fetch_path, null::varchar as page_file, null::bigint as bytes
    where false
{%- endif %}
),

listed_pages as (
    select parse_dirpath(filename) as fetch_path, unnest(pages, recursive := true)
    from manifests
),

-- one row per page named on either side, matched by fetch folder and file name
page_matches as (
    select
        coalesce(listed_pages.fetch_path, page_files.fetch_path) as fetch_path,
        listed_pages.file is not null as is_listed,
        listed_pages."rows" as rows_listed,
        page_files.page_file is not null as is_on_disk,
        listed_pages.bytes is not distinct from page_files.bytes as bytes_match
    from listed_pages
    full outer join page_files
        on page_files.fetch_path = listed_pages.fetch_path
        and page_files.page_file = listed_pages.file
    -- pages of folders without a manifest are not this model's business
    where listed_pages.fetch_path is not null
        or page_files.fetch_path in (select parse_dirpath(filename) from manifests)
),

page_checks as (
    select
        fetch_path,
        count(*) filter (where is_listed) as pages_listed,
        sum(rows_listed) as rows_listed,
        count(*) filter (where is_listed and is_on_disk and bytes_match) as pages_found,
        count(*) filter (where is_listed and not is_on_disk) as pages_missing,
        count(*) filter (where is_listed and is_on_disk and not bytes_match) as pages_resized,
        count(*) filter (where not is_listed) as pages_unlisted
    from page_matches
    group by fetch_path
),

renamed as (
    select
        manifests.asset,
        manifests."interval",
        cast(manifests."window" as date) as "window",
        manifests.fetch_id,
        coalesce(manifests.source, 'unknown') as source,
        manifests.api_root,
        manifests.endpoint,
        cast(manifests.start_time as timestamp) as start_time,
        cast(manifests.end_time as timestamp) as end_time,
        cast(manifests.fetched_at as timestamp) as fetched_at,
        cast(manifests.completed_at as timestamp) as completed_at,
        cast(manifests.answer_time as timestamp) as answer_time,
        manifests.page_count,
        manifests.row_count,
        manifests.manifest_version,
        parse_dirpath(manifests.filename) as fetch_path,
        coalesce(page_checks.pages_listed, 0) as pages_listed,
        coalesce(page_checks.rows_listed, 0) as rows_listed,
        coalesce(page_checks.pages_found, 0) as pages_found,
        coalesce(page_checks.pages_missing, 0) as pages_missing,
        coalesce(page_checks.pages_resized, 0) as pages_resized,
        coalesce(page_checks.pages_unlisted, 0) as pages_unlisted
    from manifests
    left join page_checks on page_checks.fetch_path = parse_dirpath(manifests.filename)
),

final as (
    select
        *,
        pages_listed = page_count and pages_found = page_count and pages_unlisted = 0
            and rows_listed = row_count and manifest_version is not null as pages_match_manifest
    from renamed
)

select * from final
