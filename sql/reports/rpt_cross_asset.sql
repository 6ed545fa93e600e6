-- one row per asset: the week side by side across assets, ranked by liquidated USD
{{ config(materialized='table') }}

with summary as (select * from {{ ref('rpt_weekly_summary') }}),

final as (
    select
        asset,
        row_number() over (order by total_amount desc, asset) as rank,
        total_amount,
        total_trades,
        long_amount,
        short_amount,
        long_share,
        total_amount / nullif(sum(total_amount) over (), 0) as share_of_all_assets,
        change_vs_last_week,
        change_vs_4w_avg,
        dominant_exchange,
        hours_covered,
        hours_in_period
    from summary
)

select * from final
