{#- Every row that carries the six measures, totals (exchange null) and per exchange, from the two relations
    given: one select for the checks on the measures (int_liquidation_measures; the error-level tests pass
    rows_written(ref(...)) to check only what a build wrote). -#}
{% macro measure_rows(liquidations, by_exchange) %}
    select 'stg_liquidations' as model, asset, interval_start, null as exchange, {{ liquidation_measures() }}
    from {{ liquidations }}
    union all
    select 'stg_liquidations_by_exchange', asset, interval_start, exchange, {{ liquidation_measures() }}
    from {{ by_exchange }}
{%- endmacro %}
