-- one row per asset × exchange × ISO week (Monday 00:00 UTC) with at least one covered hour; lineage: what an
-- incremental build compares (macros/period_by_exchange.sql). Incremental on asset × week_start, as the daily.
{{ config(
    materialized='incremental',
    unique_key=['asset', 'week_start'],
    incremental_strategy='delete+insert',
    post_hook="{{ period_by_exchange_cleanup(\"cast(date_trunc('week', hour) as date)\", 'week_start') }}"
) }}
{{ period_by_exchange("cast(date_trunc('week', hour) as date)", 'week_start') }}
