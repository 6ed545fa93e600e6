{#- A glob over the landed liquidation fetch folders, as written inside a SQL string literal (quotes doubled):
    `landing_glob('_manifest.json')` → `<landing_path>/liquidation_token/*/*/*/*/_manifest.json`. -#}
{% macro landing_glob(file_pattern) -%}
    {{ var('landing_path') | replace("'", "''") }}/liquidation_token/*/*/*/*/{{ file_pattern }}
{%- endmacro %}
