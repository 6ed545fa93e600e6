{#- per asset × interval × window of stg_liquidations: the sum of hash(interval_start, fetch_id) over the
    window's rows (with or without exchanges), what stg_liquidations_by_exchange holds as window_lineage and
    compares: a window whose lineage moved is unnested again, a row whose lineage is gone is removed -#}
{% macro window_lineage() -%}
    select asset, "interval", "window", sum(hash(interval_start, fetch_id)) as window_lineage
    from {{ ref('stg_liquidations') }}
    group by all
{%- endmacro %}
