{#- True when a glob matches at least one file. DuckDB's readers fail on a glob that matches nothing, and an
    empty landing zone is not an error: models read it only when it holds files. `pattern` is written as
    inside a SQL string literal (quotes doubled). dbt parses models with execute = false: no query then. -#}
{% macro files_exist(pattern) %}
    {%- if not execute -%}
        {{- return(false) -}}
    {%- endif -%}
    {#- the first match is enough: DuckDB stops listing there (a landing zone of 5,000 fetches: 3 ms, not 0.3 s) -#}
    {%- set found = run_query("select count(*) from (select 1 from glob('" ~ pattern ~ "') limit 1)") -%}
    {{- return(found.rows[0][0] > 0) -}}
{% endmacro %}
