-- one row per asset with a reference instrument: the instrument whose landed OHLCV the price models read.
-- From var('price_instruments'), "btc=binc/perpetual-future/btc-usdt,eth=…" (Settings.price, validated
-- codes); empty when price = false, so every price model is empty too.
{{ config(materialized='view') }}
with entries as (
    select unnest(string_split('{{ var("price_instruments", "") | replace("'", "''") }}', ',')) as entry
),

final as (
    select
        split_part(entry, '=', 1) as asset,
        split_part(split_part(entry, '=', 2), '/', 1) as exchange,
        split_part(split_part(entry, '=', 2), '/', 2) as instrument_class,
        split_part(split_part(entry, '=', 2), '/', 3) as instrument
    from entries
    where trim(entry) <> ''
)

select * from final
