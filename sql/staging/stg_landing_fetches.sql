-- one row per complete fetch (a fetch folder with its _manifest.json, either layout of docs/architecture.md §2),
-- with the pages it lists and the windows it marks complete, checked against the page files on disk when its
-- manifest was read. pages_match_manifest: every listed page is there with its byte count and the counts add
-- up (page_count pages, row_count = their rows); found_pages: the listed pages that are; pages_seen: a hash of
-- the listed pages on disk, names and sizes. Files a manifest does not list are never read. Folders without a
-- manifest (incomplete) never appear.
-- Incremental: a build reads only the manifests it has not read as they are now — new folders, version 3
-- manifests rewritten since (a range whose chain completed more weeks), told by the manifest's byte size and
-- modification time, and fetches whose listed pages on disk moved since (pages_seen: a page deleted, resized
-- or put back, found as a full refresh would find it); a full refresh reads them all. The pre_hook drops
-- fetches whose manifest is gone from disk (a folder removed by hand or pruned, a chain discarded), as a full
-- refresh would. One listing of the fetch folders' files tells all of it (landing_fetch_changes(): liqreport's
-- runner asks it once a model).
{{ config(
    materialized='incremental',
    unique_key=['fetch_path'],
    incremental_strategy='delete+insert',
    pre_hook="{% if is_incremental() %}
        {%- set gone = landing_fetch_changes() | selectattr(0, 'equalto', 'gone') | map(attribute=1) | list %}
        {%- if gone %}
        delete from {{ this }}
        where fetch_path in ({% for path in gone %}'{{ path }}'{{ ', ' if not loop.last }}{% endfor %})
        {%- endif %}
    {% endif %}"
) }}
{%- set window_type = 'struct("window" varchar, start_time varchar, end_time varchar, "rows" bigint, pages varchar[])' %}
{%- set manifest_columns = {
    'manifest_version': 'bigint', 'source': 'varchar', 'api_root': 'varchar', 'endpoint': 'varchar',
    'asset': 'varchar', 'interval': 'varchar', 'window': 'varchar', 'fetch_id': 'varchar',
    'start_time': 'varchar', 'end_time': 'varchar', 'fetched_at': 'varchar', 'completed_at': 'varchar',
    'answer_time': 'varchar', 'page_count': 'bigint', 'row_count': 'bigint',
    'pages': 'struct(file varchar, sha256 varchar, bytes bigint, "rows" bigint)[]',
    'windows': window_type ~ '[]',
} %}
{#- the same columns as json_transform's structure (read as text and typed: several times faster than read_json
    on thousands of small files, bench/README.md Scenario 5) -#}
{%- set manifest_structure -%}
    {
    {%- for name, type in manifest_columns.items() if name not in ('pages', 'windows') -%}
        "{{ name }}": "{{ type | upper }}",
    {%- endfor -%}
    "pages": [{"file": "VARCHAR", "sha256": "VARCHAR", "bytes": "BIGINT", "rows": "BIGINT"}],
    "windows": [{"window": "VARCHAR", "start_time": "VARCHAR", "end_time": "VARCHAR", "rows": "BIGINT",
                 "pages": ["VARCHAR"]}]}
{%- endset %}
{%- if is_incremental() %}
    {#- the manifests not read as they are now, listed once a build with the fetches gone (the pre_hook's) -#}
    {%- set manifest_files = landing_fetch_changes() | selectattr(0, 'equalto', 'unread') | map(attribute=1) | list %}
    {#- those folders' pages only: listing every landed page costs more than reading the new manifests -#}
    {%- set page_files = manifest_files | map('replace', '/_manifest.json', '/page-*.json') | list %}
{%- else %}
    {%- set manifest_files = landed_globs('_manifest.json') %}
    {%- set page_files = landing_globs('page-*.json') if manifest_files else [] %}
{%- endif %}

with manifests as (
{%- if manifest_files %}
    select
        unnest(manifest),
        filename,
        size as manifest_bytes,
        last_modified as manifest_modified
    from (
        select
            filename,
            size,
            last_modified,
            case
                when manifest is null then error('manifest ' || filename || ' is not valid JSON: the fetch '
                    || 'folder changed after it landed; fetch its windows again (liqreport fetch --refresh)')
                else manifest
            end as manifest
        from (
            select filename, size, last_modified, try(json_transform(content, '{{ manifest_structure }}')) as manifest
            from read_text({{ sql_list(manifest_files) }})
        )
    )
{%- else %}
    -- no manifest to read (an empty landing zone, or nothing new): the same columns, no rows
    select
    {%- for name, type in manifest_columns.items() %}
        null::{{ type }} as "{{ name }}",
    {%- endfor %}
        null::varchar as filename,
        null::bigint as manifest_bytes,
        null::timestamptz as manifest_modified
    where false
{%- endif %}
),

-- names and sizes only: read_blob does not read the content when it is not selected
page_files as (
{%- if page_files %}
    select parse_dirpath(filename) as fetch_path, parse_filename(filename) as page_file, size as bytes
    from read_blob({{ sql_list(page_files) }})
{%- else %}
    select null::varchar as fetch_path, null::varchar as page_file, null::bigint as bytes
    where false
{%- endif %}
),

listed_pages as (
    select parse_dirpath(filename) as fetch_path, unnest(pages, recursive := true)
    from manifests
),

page_checks as (
    select
        listed_pages.fetch_path,
        list(listed_pages.file order by listed_pages.file) as listed_pages,
        list(listed_pages.file order by listed_pages.file) filter (where page_files.bytes = listed_pages.bytes)
            as found_pages,
        count(*) as pages_listed,
        sum(listed_pages."rows") as rows_listed,
        count(*) filter (where page_files.bytes = listed_pages.bytes) as pages_found,
        count(*) filter (where page_files.page_file is null) as pages_missing,
        count(*) filter (where page_files.bytes <> listed_pages.bytes) as pages_resized,
        {{ pages_seen_hash('listed_pages.file', 'page_files.bytes') }} as pages_seen
    from listed_pages
    left join page_files
        on page_files.fetch_path = listed_pages.fetch_path
        and page_files.page_file = listed_pages.file
    group by listed_pages.fetch_path
),

renamed as (
    select
        parse_dirpath(manifests.filename) as fetch_path,
        manifests.asset,
        manifests."interval",
        manifests.fetch_id,
        coalesce(manifests.source, 'unknown') as source,
        manifests.api_root,
        manifests.endpoint,
        manifests.manifest_version,
        cast(manifests.start_time as timestamp) as start_time,
        cast(manifests.end_time as timestamp) as end_time,
        cast(manifests.fetched_at as timestamp) as fetched_at,
        cast(manifests.completed_at as timestamp) as completed_at,
        cast(manifests.answer_time as timestamp) as answer_time,
        manifests.page_count,
        manifests.row_count,
        -- versions 1 and 2 land one window a folder: every row of its pages belongs to that window
        cast(manifests."window" as date) as single_window,
        coalesce(manifests.windows, [{
            'window': manifests."window", 'start_time': manifests.start_time, 'end_time': manifests.end_time,
            'rows': manifests.row_count, 'pages': null
        }::{{ window_type }}]) as windows,
        coalesce(page_checks.listed_pages, []) as listed_pages,
        coalesce(page_checks.found_pages, []) as found_pages,
        coalesce(page_checks.pages_listed, 0) as pages_listed,
        coalesce(page_checks.rows_listed, 0) as rows_listed,
        coalesce(page_checks.pages_found, 0) as pages_found,
        coalesce(page_checks.pages_missing, 0) as pages_missing,
        coalesce(page_checks.pages_resized, 0) as pages_resized,
        page_checks.pages_seen,
        manifests.manifest_bytes,
        manifests.manifest_modified
    from manifests
    left join page_checks on page_checks.fetch_path = parse_dirpath(manifests.filename)
),

final as (
    select
        *,
        pages_listed = page_count and rows_listed = row_count and manifest_version is not null
            as counts_add_up,
        pages_listed = page_count and pages_found = page_count and rows_listed = row_count
            and manifest_version is not null as pages_match_manifest
    from renamed
)

select * from final
