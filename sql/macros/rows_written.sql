{#- The rows of `model` (a ref()) this build wrote, for an error-level data test that checks each row on its own
    or against the rows sharing its unique_key (a duplicate key within an incremental model's unique_key).
    liqreport's runner narrows the relation to the keys it merged into an incremental model in this build when
    the test, as defined now, passed in the last committed build: every other row was checked then and has not
    changed (docs/architecture.md §3). Otherwise — a full refresh, a model rebuilt whole, a warning, a new or
    changed test, under dbt — it is the whole model. -#}
{% macro rows_written(model) %}
    {%- if liqreport_rows_written is defined -%}
        {{- return(liqreport_rows_written(model)) -}}
    {%- endif -%}
    {{- return(model) -}}
{% endmacro %}
