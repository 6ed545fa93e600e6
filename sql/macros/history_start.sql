{#- The first hour the endpoint has data for, as a SQL timestamp: earlier hours are "no coverage", never zero.
    The pipeline passes var('history_start') from Settings.history_start; Kaiko documents history from
    2025-01-08, the default here for a build given no variable (dbt run by hand). -#}
{% macro history_start() -%}
    timestamp '{{ var("history_start", "2025-01-08 00:00:00") }}'
{%- endmacro %}
