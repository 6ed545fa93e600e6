{#- The globs over the landed liquidation fetch folders, one a layout (docs/architecture.md §2), as written
    inside a SQL string literal (quotes doubled): manifest_version 3 folders
    `<landing_path>/liquidation_token/asset=*/interval=*/fetch=*/`, versions 1–2 one level deeper under
    `window=*/`. Two fixed-depth globs list a large landing zone faster than one recursive `**`.
    `landing_globs('_manifest.json')` → both; `landed_globs('_manifest.json')` → those matching a file
    (DuckDB's JSON reader fails on a glob that matches nothing; read_blob and glob() do not). -#}
{% macro landing_globs(file_pattern) %}
    {%- set root = var('landing_path') | replace("'", "''") ~ '/liquidation_token' -%}
    {{- return([root ~ '/*/*/*/' ~ file_pattern, root ~ '/*/*/*/*/' ~ file_pattern]) -}}
{% endmacro %}

{% macro landed_globs(file_pattern) %}
    {%- set found = [] -%}
    {%- for pattern in landing_globs(file_pattern) if files_exist(pattern) -%}
        {%- if found.append(pattern) %}{% endif -%}
    {%- endfor -%}
    {{- return(found) -}}
{% endmacro %}

{#- `[ 'a', 'b' ]`: a list of SQL string literals (already quote-doubled) for DuckDB's file readers -#}
{% macro sql_list(files) -%}
    [{% for file in files %}'{{ file }}'{{ ', ' if not loop.last }}{% endfor %}]
{%- endmacro %}

{#- What an incremental stg_landing_fetches must do, from one listing of the manifests and pages on disk (names,
    sizes and times only: read_blob reads no content unless selected): rows ('unread', manifest file) for a
    manifest {{ this }} has not read as it is now (a new folder, a version 3 manifest rewritten since: a rewrite
    replaces the file, so its size or time moves, or a fetch whose listed pages on disk are not the ones it
    checked: a page deleted, resized or put back since), ('gone', fetch_path) for a fetch whose manifest is no
    longer on disk. Paths are quote-doubled for SQL literals. liqreport's runner answers the same query once a
    model (the model's SQL and its pre_hook both ask); dbt lists twice. -#}
{% macro landing_fetch_changes() %}
    {#- one listing of the fetch folders' files, manifests and pages: a glob's cost is the folders it walks
        (5,200 legacy folders: 0.36 s for both kinds at once, 0.25 s + 0.30 s apart) -#}
    {%- set listing = "select filename, parse_filename(filename) as file, size, last_modified from read_blob("
        ~ sql_list(landing_globs('*.json')) ~ ")" -%}
    {%- set changes = run_query(
        "with files as (" ~ listing ~ "), "
        ~ "on_disk as (select filename, size, last_modified from files where file = '_manifest.json'), "
        ~ "pages_on_disk as (select parse_dirpath(filename) as fetch_path, file, size as bytes from files "
        ~ "where file like 'page-%.json'), "
        ~ "listed as (select fetch_path, pages_seen, unnest(listed_pages) as file from " ~ this ~ "), "
        ~ "seen_now as (select listed.fetch_path, any_value(listed.pages_seen) as pages_seen, "
        ~ pages_seen_hash('listed.file', 'pages_on_disk.bytes') ~ " as pages_seen_now from listed "
        ~ "left join pages_on_disk on pages_on_disk.fetch_path = listed.fetch_path "
        ~ "and pages_on_disk.file = listed.file group by listed.fetch_path) "
        ~ "select 'unread', replace(filename, chr(39), chr(39) || chr(39)) from on_disk where not exists ("
        ~ "select 1 from " ~ this ~ " as known where known.fetch_path = parse_dirpath(on_disk.filename) "
        ~ "and known.manifest_bytes = on_disk.size and known.manifest_modified = on_disk.last_modified "
        ~ "and not exists (select 1 from seen_now where seen_now.fetch_path = known.fetch_path "
        ~ "and seen_now.pages_seen is distinct from seen_now.pages_seen_now)) "
        ~ "union all "
        ~ "select 'gone', replace(fetch_path, chr(39), chr(39) || chr(39)) from " ~ this ~ " as known "
        ~ "where not exists (select 1 from on_disk where parse_dirpath(on_disk.filename) = known.fetch_path) "
        ~ "order by 1, 2") -%}
    {{- return(changes.rows if changes is not none else []) -}}
{% endmacro %}

{#- A fetch's listed pages as found on disk, (file, bytes) of each listed file that is there, in one hash: what
    stg_landing_fetches stores as pages_seen when it checks the pages, and landing_fetch_changes() computes again
    from a listing, so a page deleted, resized or restored since makes the fetch be read again. An aggregate over
    one fetch's listed files (`file`, and `bytes` null where the file is missing). -#}
{% macro pages_seen_hash(file, bytes) -%}
    hash(list(({{ file }}, {{ bytes }}) order by {{ file }}) filter (where {{ bytes }} is not null))
{%- endmacro %}

{#- The page files that rows of `relation` list (its `fetch_path`, and `pages`, a list of page names), where
    `where` holds (the rows aliased `windows`): by name, quote-doubled for SQL literals, for DuckDB's readers. A
    glob would also read a page landed after its manifest's last rewrite (whole, or cut off by a kill: nobody's,
    and its malformed JSON fails the read). dbt parses models with execute = false: no query, no files. -#}
{% macro listed_page_files(relation, pages, where='true') %}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set listed = run_query(
        "select distinct replace(fetch_path || '/' || page_file, chr(39), chr(39) || chr(39)) from ("
        ~ "select windows.fetch_path, unnest(windows." ~ pages ~ ") as page_file from " ~ relation
        ~ " as windows where " ~ where ~ ") order by 1") -%}
    {{- return(listed.rows | map(attribute=0) | list) -}}
{% endmacro %}
