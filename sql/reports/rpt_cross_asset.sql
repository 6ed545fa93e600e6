-- one row per asset the report asks for that is in the warehouse: the week side by side, ranked by USD
{{ config(materialized='table') }}

with summary as (select * from {{ ref('rpt_weekly_summary') }}),

report_assets as (select * from {{ ref('rpt_report_assets') }}),

final as (
    select
        summary.asset,
        row_number() over (order by summary.total_amount desc, report_assets.position) as rank,
        report_assets.position,
        summary.total_amount,
        summary.total_trades,
        summary.long_amount,
        summary.short_amount,
        summary.long_share,
        summary.total_amount / nullif(sum(summary.total_amount) over (), 0) as share_of_all_assets,
        summary.change_vs_last_week,
        summary.change_vs_4w_avg,
        summary.dominant_exchange,
        summary.dominant_exchange_share,
        summary.hours_covered,
        summary.hours_in_period
    from summary
    inner join report_assets on report_assets.asset = summary.asset
)

select * from final
