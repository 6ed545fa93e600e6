{#- The by-exchange facts summed over a period (a UTC day, an ISO week) of fct_liquidations_hourly_by_exchange:
    one row per asset × exchange × period with at least one covered hour. `period` is the SQL of the period
    from `hour`, `name` its column. lineage = the sum of hash(hour, fetch_id) over the period's covered hours (a sum:
    DuckDB's hash of two values is the xor of their hashes, so a bit_xor over an even number of hours would
    cancel the fetch out):
    the same for every exchange of the asset (each has a row for every covered hour), and equal to
    period_lineage() of fct_liquidations_hourly, so an incremental build sums again only the periods whose
    hours or fetches moved (and every period of an asset whose exchanges changed), then removes the periods no
    longer covered and the exchanges an asset no longer has (period_by_exchange_cleanup). -#}
{#- per asset × period of fct_liquidations_hourly: the lineage its covered hours give (also the weeks that
    fct_liquidations_hourly_by_exchange compares) -#}
{% macro period_lineage(period, name) -%}
    select asset, {{ period }} as {{ name }}, sum(hash(hour, fetch_id)) as lineage
    from {{ ref('fct_liquidations_hourly') }}
    group by all
{%- endmacro %}

{#- the assets whose set of exchanges differs between int_asset_exchanges (CTE asset_exchanges) and {{ this }}:
    each of their periods or hours is built again, with the new set of rows -#}
{% macro assets_with_changed_exchanges() -%}
    select distinct asset
    from (
        (select asset, exchange from asset_exchanges except select distinct asset, exchange from {{ this }})
        union all
        (select distinct asset, exchange from {{ this }} except select asset, exchange from asset_exchanges)
    )
{%- endmacro %}

{% macro period_by_exchange(period, name) %}
with hourly_by_exchange as (select * from {{ ref('fct_liquidations_hourly_by_exchange') }}),
{%- if is_incremental() %}

asset_exchanges as (select * from {{ ref('int_asset_exchanges') }}),

period_lineage as (
    {{ period_lineage(period, name) }}
),

-- an asset that gained or lost an exchange: each of its periods is summed again
changed_assets as (
    {{ assets_with_changed_exchanges() }}
),

periods_to_sum as (
    select asset, {{ name }}
    from period_lineage
    anti join (select distinct asset, {{ name }}, lineage from {{ this }}) as kept
        on kept.asset = period_lineage.asset
        and kept.{{ name }} = period_lineage.{{ name }}
        and kept.lineage = period_lineage.lineage
    union
    select asset, {{ name }}
    from period_lineage
    semi join changed_assets on changed_assets.asset = period_lineage.asset
),

hours_to_sum as (
    select hourly_by_exchange.*
    from hourly_by_exchange
    semi join periods_to_sum
        on periods_to_sum.asset = hourly_by_exchange.asset
        and periods_to_sum.{{ name }} = {{ period }}
),
{%- else %}

hours_to_sum as (select * from hourly_by_exchange),
{%- endif %}

final as (
    select
        asset,
        exchange,
        {{ period }} as {{ name }},
        {{ sum_measures() }},
        count(*) as hours_covered,
        sum(hash(hour, fetch_id)) as lineage
    from hours_to_sum
    group by all
)

select * from final
{% endmacro %}

{#- the post_hooks of an incremental period_by_exchange model: periods no longer covered, exchanges gone -#}
{% macro period_by_exchange_cleanup(period, name) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as kept
    where not exists (
        select 1 from ({{ period_lineage(period, name) }}) as covered
        where covered.asset = kept.asset and covered.{{ name }} = kept.{{ name }}
    )
    or not exists (
        select 1 from {{ ref('int_asset_exchanges') }} as asset_exchanges
        where asset_exchanges.asset = kept.asset and asset_exchanges.exchange = kept.exchange
    )
    {%- endif -%}
{%- endmacro %}
