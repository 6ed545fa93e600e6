-- one row per asset: coverage, landing provenance and reconciliation of the report period
{{ config(materialized='table') }}

with report_window as (select * from {{ ref('rpt_report_window') }}),

timeline as (select * from {{ ref('rpt_hourly_timeline') }}),

hourly_by_exchange as (select * from {{ ref('fct_liquidations_hourly_by_exchange') }}),

landing_windows as (select * from {{ ref('stg_landing_windows') }}),

-- the typed rows, not stg_liquidation_pages: that view parses every landed page's JSON again
landed_rows as (select * from {{ ref('stg_liquidation_rows') }}),

coverage as (
    select
        asset,
        count(*) as hours_in_period,
        count(*) filter (where is_covered) as hours_covered,
        count(*) filter (where has_data) as hours_with_data,
        min(hour) filter (where is_covered) as first_covered_hour,
        max(hour) filter (where is_covered) as last_covered_hour
    from timeline
    group by asset
),

period_windows as (
    select landing_windows.*
    from landing_windows
    cross join report_window
    where landing_windows.is_current
        and landing_windows."interval" = '1h'  -- the facts are hourly; other landings do not feed this report
        and landing_windows.start_time < report_window.report_end
        and landing_windows.end_time > report_window.report_start
),

-- a page of a range fetch is listed under every week it holds: count each fetch's page once
period_pages as (
    select asset, count(distinct (fetch_id, page_file)) as pages
    from (select asset, fetch_id, unnest(window_pages) as page_file from period_windows)
    group by asset
),

window_provenance as (
    select
        asset,
        count(*) as complete_windows,
        sum(row_count) as rows_landed,
        max(fetched_at) as data_as_of,
        max(answer_time) as newest_manifest_answer_time,
        bool_or(source = 'simulator') as uses_simulator,
        string_agg(distinct source, ', ' order by source) as sources
    from period_windows
    group by asset
),

page_answer_times as (
    select landed_rows.asset, max(landed_rows.answer_time) as newest_answer_time
    from landed_rows
    inner join period_windows
        on period_windows.asset = landed_rows.asset
        and period_windows."window" = landed_rows."window"
        and period_windows.fetch_id = landed_rows.fetch_id
    group by landed_rows.asset
),

exchange_sums as (
    select asset, hour, sum(total_amount) as exchanges_amount, sum(total_trades) as exchanges_trades
    from hourly_by_exchange
    where hour >= (select report_start from report_window)
        and hour < (select report_end from report_window)
    group by asset, hour
),

-- a cent of float noise is not a mismatch; anything above that (relative to the hour) is
reconciliation as (
    select
        timeline.asset,
        count(*) filter (where exchange_sums.hour is not null) as hours_reconciled,
        count(*) filter (
            where abs(coalesce(exchange_sums.exchanges_amount, 0) - timeline.total_amount)
                > 0.01 + 1e-9 * timeline.total_amount
            or coalesce(exchange_sums.exchanges_trades, 0) <> timeline.total_trades
        ) as hours_mismatched,
        max(abs(coalesce(exchange_sums.exchanges_amount, 0) - timeline.total_amount)) as largest_difference
    from timeline
    left join exchange_sums
        on exchange_sums.asset = timeline.asset
        and exchange_sums.hour = timeline.hour
    where timeline.is_covered
    group by timeline.asset
),

final as (
    select
        coverage.asset,
        coverage.hours_in_period,
        coverage.hours_covered,
        coverage.hours_with_data,
        coverage.hours_in_period - coverage.hours_covered as hours_missing,
        coverage.first_covered_hour,
        coverage.last_covered_hour,
        coalesce(window_provenance.complete_windows, 0) as complete_windows,
        coalesce(period_pages.pages, 0) as pages,
        coalesce(window_provenance.rows_landed, 0) as rows_landed,
        window_provenance.data_as_of,
        -- a page with no rows has no answer_time in the rows; its manifest still has one
        greatest(page_answer_times.newest_answer_time, window_provenance.newest_manifest_answer_time)
            as newest_answer_time,
        coalesce(window_provenance.uses_simulator, false) as uses_simulator,
        window_provenance.sources,
        coalesce(reconciliation.hours_reconciled, 0) as hours_reconciled,
        coalesce(reconciliation.hours_mismatched, 0) as hours_mismatched,
        coalesce(reconciliation.largest_difference, 0) as largest_difference
    from coverage
    left join window_provenance on window_provenance.asset = coverage.asset
    left join period_pages on period_pages.asset = coverage.asset
    left join page_answer_times on page_answer_times.asset = coverage.asset
    left join reconciliation on reconciliation.asset = coverage.asset
)

select * from final
