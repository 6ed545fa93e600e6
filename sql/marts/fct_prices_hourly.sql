-- one row per asset × hour inside a current complete price window of the asset's reference instrument (no
-- landed price, no row), with the hour's liquidations where those are covered (null, not zero, where not).
-- has_price: the hour traded and its bar is consistent (positive, low <= open, close <= high); the prices
-- of any other hour are null here (stg_prices keeps what landed, the data tests name the bad bars).
-- hourly_return: close over the previous usable close in the same run of covered hours, so a return never
-- spans a coverage gap; high_low_range: (high - low) / open. Both fractions (0.01 = 1 %).
with covered_hours as (select * from {{ ref('int_price_covered_hours') }}),

prices as (select * from {{ ref('stg_prices') }}),

reference_instruments as (select * from {{ ref('stg_price_reference_instruments') }}),

liquidations as (select * from {{ ref('fct_liquidations_hourly') }}),

hourly_prices as (
    select *
    from prices
    where "interval" = '1h'
),

bars as (
    select
        covered_hours.asset,
        covered_hours.hour,
        hourly_prices."open",
        hourly_prices.high,
        hourly_prices.low,
        hourly_prices."close",
        hourly_prices.volume,
        coalesce(
            hourly_prices."close" is not null
            and least(hourly_prices."open", hourly_prices.high, hourly_prices.low, hourly_prices."close") > 0
            and hourly_prices.low <= least(hourly_prices."open", hourly_prices."close")
            and hourly_prices.high >= greatest(hourly_prices."open", hourly_prices."close"),
            false
        ) as has_price,
        hourly_prices.asset is not null and hourly_prices."close" is null as is_no_trade
    from covered_hours
    left join hourly_prices
        on hourly_prices.asset = covered_hours.asset
        and hourly_prices.interval_start = covered_hours.hour
),

-- contiguous covered hours share a run: hour minus its position in the asset's hours is constant within one
runs as (
    select
        *,
        hour - to_hours(row_number() over (partition by asset order by hour)) as run_key
    from bars
),

with_previous as (
    select
        *,
        last_value(case when has_price then "close" end ignore nulls) over (
            partition by asset, run_key order by hour rows between unbounded preceding and 1 preceding
        ) as previous_close
    from runs
),

final as (
    select
        with_previous.asset,
        with_previous.hour,
        reference_instruments.exchange,
        reference_instruments.instrument_class,
        reference_instruments.instrument,
        case when has_price then with_previous."open" end as "open",
        case when has_price then with_previous.high end as high,
        case when has_price then with_previous.low end as low,
        case when has_price then with_previous."close" end as "close",
        case when has_price then with_previous.volume when is_no_trade then 0.0 end as volume,
        with_previous.has_price,
        with_previous.previous_close,
        case when has_price then with_previous."close" / with_previous.previous_close - 1 end as hourly_return,
        case when has_price then (with_previous.high - with_previous.low) / with_previous."open" end
            as high_low_range,
        {{ liquidation_measures('liquidations.') }},
        liquidations.asset is not null as is_liquidation_covered,
        has_price and liquidations.asset is not null as is_covered
    from with_previous
    inner join reference_instruments on reference_instruments.asset = with_previous.asset
    left join liquidations
        on liquidations.asset = with_previous.asset
        and liquidations.hour = with_previous.hour
    order by with_previous.asset, with_previous.hour
)

select * from final
