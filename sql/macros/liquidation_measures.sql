{#- The six measures every liquidation row carries, in totals and per exchange: the one place they are
    listed. Trades are counts; amounts are USD as the API gives them. -#}
{% macro measure_types() %}
    {{- return({
        'total_trades': 'bigint', 'total_amount': 'double',
        'long_trades': 'bigint', 'long_amount': 'double',
        'short_trades': 'bigint', 'short_amount': 'double',
    }) -}}
{% endmacro %}

{#- `total_trades bigint, total_amount double, …`: the measures as struct fields or a column list -#}
{% macro typed_measures() %}
    {%- for name, type in measure_types().items() -%}
        {{ name }} {{ type }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{% endmacro %}

{#- the six measure columns, `{{ liquidation_measures('landed.') }}` → `landed.total_trades as total_trades, …` -#}
{% macro liquidation_measures(prefix='') %}
    {%- for name in measure_types() -%}
        {{ prefix }}{{ name }}{{ ' as ' ~ name if prefix }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{% endmacro %}

{#- the six measures summed over a group, each keeping its type (a sum of bigint is a hugeint in DuckDB) -#}
{% macro sum_measures(prefix='') %}
    {%- for name, type in measure_types().items() -%}
        cast(sum({{ prefix }}{{ name }}) as {{ type }}) as {{ name }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{% endmacro %}

{#- the six measures of an outer-joined side, zero where the join found no row (no events, not missing) -#}
{% macro coalesce_measures(prefix='', value=0) %}
    {%- for name in measure_types() -%}
        coalesce({{ prefix }}{{ name }}, {{ value }}) as {{ name }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{% endmacro %}

{#- the six measures of an outer-joined side in an hour that may be missing: null (missing) where `covered` is
    false, else zero where the join found no row (no events) -#}
{% macro covered_measures(prefix, covered) %}
    {%- for name in measure_types() -%}
        case when {{ covered }} then coalesce({{ prefix }}{{ name }}, 0) end as {{ name }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{% endmacro %}
