-- one row per complete fetch (a fetch folder with its _manifest.json), checked against the page files on disk.
-- is_newest = the newest complete fetch of its asset × interval × window; is_current = is_newest and its
-- pages are on disk exactly as the manifest lists them (names and byte counts, nothing missing or extra)
-- and its counts add up (page_count pages, row_count = the pages' rows).
-- A window whose newest fetch disagrees with its manifest has no current fetch: it is missing coverage,
-- never summed, and assert_landing_matches_manifests fails the build. Incomplete fetches have no manifest
-- and never appear here.
-- Materialized: a year of weeks is a thousand small files, and several models read this.
{{ config(materialized='table') }}
{%- set landing = var('landing_path') | replace("'", "''") %}
{%- set manifest_glob = landing ~ '/liquidation_token/*/*/*/*/_manifest.json' %}
{%- set page_glob = landing ~ '/liquidation_token/*/*/*/*/page-*.json' %}
{%- set manifest_columns = {
    'manifest_version': 'bigint', 'source': 'varchar', 'api_root': 'varchar', 'endpoint': 'varchar',
    'asset': 'varchar', 'interval': 'varchar', 'window': 'varchar', 'fetch_id': 'varchar',
    'start_time': 'varchar', 'end_time': 'varchar', 'fetched_at': 'varchar', 'completed_at': 'varchar',
    'answer_time': 'varchar', 'page_count': 'bigint', 'row_count': 'bigint',
    'pages': 'struct(file varchar, sha256 varchar, bytes bigint, "rows" bigint)[]',
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

-- names and sizes only: read_blob does not read the content when it is not selected
page_files as (
{%- if files_exist(page_glob) %}
    select parse_dirpath(filename) as fetch_path, parse_filename(filename) as page_file, size as bytes
    from read_blob('{{ page_glob }}')
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

checked as (
    select
        *,
        pages_listed = page_count and pages_found = page_count and pages_unlisted = 0
            and rows_listed = row_count and manifest_version is not null as pages_match_manifest,
        row_number() over (partition by asset, "interval", "window" order by fetch_id desc) = 1 as is_newest
    from renamed
),

final as (
    select *, is_newest and pages_match_manifest as is_current
    from checked
)

select * from final
