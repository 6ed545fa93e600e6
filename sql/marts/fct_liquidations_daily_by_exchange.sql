-- one row per asset × exchange × UTC day with at least one covered hour; lineage: what an incremental build
-- compares (macros/period_by_exchange.sql). Incremental on asset × day: a build sums again only the days whose
-- hours or fetches moved; a full refresh sums every day; both give one table (tests/test_incremental.py).
{{ config(
    materialized='incremental',
    unique_key=['asset', 'day'],
    incremental_strategy='delete+insert',
    post_hook="{{ period_by_exchange_cleanup('cast(hour as date)', 'day') }}"
) }}
{{ period_by_exchange('cast(hour as date)', 'day') }}
