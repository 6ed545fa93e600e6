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
