{#- The by-exchange facts summed over a period (a UTC day, an ISO week): one row per asset × exchange × period
    with at least one covered hour, for every exchange the asset has anywhere (what fct_liquidations_hourly_by_exchange
    holds, summed; zero-filled here at the period's grain, not hour by hour). `period` is the SQL of the period
    from `hour`, `name` its column. lineage = the sum of hash(hour, fetch_id) over the period's covered hours (a sum:
    DuckDB's hash of two values is the xor of their hashes, so a bit_xor over an even number of hours would
    cancel the fetch out):
    the same for every exchange of the asset, and equal to
    period_lineage() of fct_liquidations_hourly, so an incremental build sums again only the periods whose
    hours or fetches moved (and every period of an asset whose exchanges changed), then removes the periods no
    longer covered and the exchanges an asset no longer has (period_by_exchange_cleanup). -#}
{#- per asset × period of fct_liquidations_hourly (or `hourly`, a CTE of it the caller reads anyway: DuckDB then
    scans it once for all its readers): its covered hours and the lineage they give -#}
{% macro period_lineage(period, name, hourly=none) -%}
    select asset, {{ period }} as {{ name }}, count(*) as hours_covered, sum(hash(hour, fetch_id)) as lineage
    from {{ hourly or ref('fct_liquidations_hourly') }}
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
with hourly as (select * from {{ ref('fct_liquidations_hourly') }}),

asset_exchanges as (select * from {{ ref('int_asset_exchanges') }}),

-- the exchanges' hourly rows, `hour` named as in the facts so that `period` applies to them too
by_exchange as (
    select asset, exchange, interval_start as hour, {{ liquidation_measures() }}
    from {{ ref('stg_liquidations_by_exchange') }}
    where "interval" = '1h'
),

periods as (
    {{ period_lineage(period, name, 'hourly') }}
),
{%- if is_incremental() %}

-- an asset that gained or lost an exchange: each of its periods is summed again
changed_assets as (
    {{ assets_with_changed_exchanges() }}
),

periods_to_sum as (
    select periods.*
    from periods
    anti join (select distinct asset, {{ name }}, lineage from {{ this }}) as kept
        on kept.asset = periods.asset
        and kept.{{ name }} = periods.{{ name }}
        and kept.lineage = periods.lineage
    union
    select periods.*
    from periods
    semi join changed_assets on changed_assets.asset = periods.asset
),

-- the covered hours of those periods
hours_to_sum as (
    select hourly.asset, hourly.hour
    from hourly
    semi join periods_to_sum
        on periods_to_sum.asset = hourly.asset
        and periods_to_sum.{{ name }} = {{ period }}
),
{%- else %}

periods_to_sum as (select * from periods),

hours_to_sum as (select asset, hour from hourly),
{%- endif %}

-- what each exchange had in those hours (a row outside every complete window is not summed). One semi join on
-- the hour itself, so a weekly build's few thousand hours narrow the scan of the exchanges' rows
exchange_sums as (
    select by_exchange.asset, by_exchange.exchange, {{ period }} as {{ name }}, {{ sum_measures() }}
    from by_exchange
    semi join hours_to_sum on hours_to_sum.asset = by_exchange.asset and hours_to_sum.hour = by_exchange.hour
    group by all
),

-- every exchange of the asset in every covered period: zero where it had no events
final as (
    select
        periods_to_sum.asset,
        asset_exchanges.exchange,
        periods_to_sum.{{ name }},
        {{ coalesce_measures('exchange_sums.') }},
        periods_to_sum.hours_covered,
        periods_to_sum.lineage
    from periods_to_sum
    inner join asset_exchanges on asset_exchanges.asset = periods_to_sum.asset
    left join exchange_sums
        on exchange_sums.asset = periods_to_sum.asset
        and exchange_sums.exchange = asset_exchanges.exchange
        and exchange_sums.{{ name }} = periods_to_sum.{{ name }}
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
