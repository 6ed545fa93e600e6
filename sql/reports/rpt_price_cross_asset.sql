-- one row per asset the report asks for: its price context side by side — why it has a price or not
-- (rpt_price_coverage), the period's move (rpt_price_week_move), USD liquidated per 1 % of absolute hourly
-- move against the trailing 12 weeks (rpt_price_liquidations_per_move), the correlation of net long USD with
-- returns, and its largest hourly move. rank_per_move orders the assets by USD per 1 % move (largest first)
-- among those with one; a figure is null where its inputs are (a partial week has no move).
{{ config(materialized='table') }}

with coverage as (select * from {{ ref('rpt_price_coverage') }}),

week_move as (select * from {{ ref('rpt_price_week_move') }}),

per_move as (select * from {{ ref('rpt_price_liquidations_per_move') }}),

correlation as (select * from {{ ref('rpt_price_liquidation_correlation') }}),

largest_moves as (select * from {{ ref('rpt_price_largest_moves') }} where rank = 1),

report_assets as (select * from {{ ref('rpt_report_assets') }}),

final as (
    select
        coverage.asset,
        report_assets.position,
        coverage.price_status,
        coverage.access_message,
        coverage.exchange,
        coverage.instrument_class,
        coverage.instrument,
        coverage.hours_in_period,
        coverage.hours_price_covered,
        coverage.hours_with_price,
        coverage.hours_covered,
        coalesce(week_move.is_complete, false) as is_move_complete,
        week_move.period_open,
        week_move.period_close,
        week_move.period_high,
        week_move.period_low,
        week_move.high_hour,
        week_move.low_hour,
        week_move.price_change,
        week_move.high_low_range,
        coalesce(per_move.hours_used, 0) as hours_used,
        per_move.absolute_move_pct,
        per_move.total_amount as move_total_amount,
        per_move.total_per_pct_move,
        per_move.long_per_pct_move,
        per_move.short_per_pct_move,
        coalesce(per_move.trailing_hours_used, 0) as trailing_hours_used,
        per_move.trailing_total_per_pct_move,
        per_move.change_vs_trailing,
        per_move.long_change_vs_trailing,
        per_move.short_change_vs_trailing,
        correlation.correlation,
        correlation.trailing_correlation,
        largest_moves.hour as largest_move_hour,
        largest_moves.hourly_return as largest_move_return,
        largest_moves.total_amount as largest_move_amount,
        largest_moves.long_share as largest_move_long_share,
        case when per_move.total_per_pct_move is not null then row_number() over (
            partition by per_move.total_per_pct_move is not null
            order by per_move.total_per_pct_move desc, report_assets.position
        ) end as rank_per_move
    from coverage
    left join report_assets on report_assets.asset = coverage.asset
    left join week_move on week_move.asset = coverage.asset
    left join per_move on per_move.asset = coverage.asset
    left join correlation on correlation.asset = coverage.asset
    left join largest_moves on largest_moves.asset = coverage.asset
    order by report_assets.position
)

select * from final
