"""The obvious alternative to liqreport, as a user would write it from the API page's Python example.

Two halves, timed separately by the benchmarks:
- `baseline_fetch`: sequential `requests.get` calls following `next_url`, `pd.concat` per page (the seed's
  code, with `page_size=1000`, the maximum, as anyone fetching weeks of data would set).
- `baseline_build`: pandas over raw rows — `json.load` per landed page, a DataFrame per page, `pd.concat`,
  flatten `exchanges`, group into daily/weekly totals and daily/weekly by exchange.

Its frames have the columns of liqreport's exports (`report.models.exports`), so `compare_with_exports` can
check that both sides computed the same numbers before their times are compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pandas as pd
import requests

MEASURES = ["total_trades", "total_amount", "long_trades", "long_amount", "short_trades", "short_amount"]
TRADE_MEASURES = ["total_trades", "long_trades", "short_trades"]
FRAMES = {
    "daily": ["asset", "day"],
    "weekly": ["asset", "week_start"],
    "daily_by_exchange": ["asset", "exchange", "day"],
    "weekly_by_exchange": ["asset", "exchange", "week_start"],
}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_asset(base_url: str, key: str, asset: str, start: datetime, end: datetime,
                interval: str = "1h", page_size: int = 1000) -> pd.DataFrame:
    """The seed's `get_kaiko_liquidation_data`, minus its swallowing of errors (a benchmark must see them)."""
    headers = {"Accept": "application/json", "X-Api-Key": key}
    url = f"{base_url.rstrip('/')}/v2/data/liquidation.v1/token/{asset}"
    params = {"start_time": _iso(start), "end_time": _iso(end), "sort": "desc",
              "page_size": page_size, "interval": interval}
    res = requests.get(url, headers=headers, params=params, timeout=60)
    res.raise_for_status()
    data = res.json()
    df = pd.DataFrame(data["data"])
    while data.get("next_url"):
        res = requests.get(data["next_url"], headers=headers, timeout=60)
        res.raise_for_status()
        data = res.json()
        df = pd.concat([df, pd.DataFrame(data["data"])], ignore_index=True)
    return df.assign(asset=asset)


def baseline_fetch(base_url: str, key: str, assets: Iterable[str], start: datetime, end: datetime,
                   interval: str = "1h", page_size: int = 1000) -> pd.DataFrame:
    """One asset after the other, one page after the other: the raw rows (with their `exchanges` lists)."""
    frames = [fetch_asset(base_url, key, asset, start, end, interval, page_size) for asset in assets]
    return pd.concat(frames, ignore_index=True)


def current_page_files(landing_dir: Path) -> list[tuple[str, Path, list[tuple[str, str]]]]:
    """(asset, page path, [(start, end) of the windows read from it]) for the pages of the newest complete
    fetch of each window, as liqreport reads them (docs/architecture.md §2).

    A fetch folder counts only with its `_manifest.json`; it marks the windows in its `windows` (version 3:
    one folder a range of weeks) or its one `window` (versions 1–2: one folder a week); fetch ids sort in
    time. Only the pages a manifest lists are read.
    """
    newest: dict[tuple[str, str, str], tuple[str, Path, dict]] = {}
    root = Path(landing_dir) / "liquidation_token"
    for pattern in ("asset=*/interval=*/fetch=*/_manifest.json",
                    "asset=*/interval=*/window=*/fetch=*/_manifest.json"):
        for path in root.glob(pattern):
            manifest = json.loads(path.read_text())
            windows = manifest.get("windows") or [
                {"window": manifest["window"], "start_time": manifest["start_time"],
                 "end_time": manifest["end_time"]}]
            for window in windows:
                key = (manifest["asset"], manifest["interval"], window["window"])
                if key not in newest or manifest["fetch_id"] > newest[key][0]:
                    newest[key] = (manifest["fetch_id"], path.parent, window)
    ranges: dict[tuple[str, Path], list[tuple[str, str]]] = {}
    for (asset, _, _), (_, fetch_dir, window) in sorted(newest.items()):
        ranges.setdefault((asset, fetch_dir), []).append((window["start_time"], window["end_time"]))
    files = []
    for (asset, fetch_dir), windows in sorted(ranges.items()):
        manifest = json.loads((fetch_dir / "_manifest.json").read_text())
        files.extend((asset, fetch_dir / page["file"], windows) for page in manifest["pages"])
    return files


def rows_from_landing(landing_dir: Path) -> pd.DataFrame:
    """json.load per page, a DataFrame per page, one pd.concat: the raw rows of every current page."""
    frames = []
    for asset, path, windows in current_page_files(landing_dir):
        with open(path, encoding="utf-8") as page_file:
            page = json.load(page_file)
        frame = pd.DataFrame(page["data"]).assign(asset=asset)
        if not path.parent.parent.name.startswith("window=") and len(frame):
            # a range's page may hold rows of a window a newer fetch replaced: keep this fetch's windows
            inside = pd.Series(False, index=frame.index)
            for start, end in windows:
                inside |= (frame["interval_time"] >= start) & (frame["interval_time"] < end)
            frame = frame[inside]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _hourly(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per asset × hour (a page boundary can repeat an hour), with its day and ISO week."""
    hourly = rows.drop_duplicates(subset=["asset", "interval_time"], keep="last").copy()
    hour = pd.to_datetime(hourly["interval_time"], utc=True).dt.tz_localize(None)
    hourly["day"] = hour.dt.floor("D")
    hourly["week_start"] = hourly["day"] - pd.to_timedelta(hour.dt.day_of_week, unit="D")
    return hourly


def _by_exchange(hourly: pd.DataFrame) -> pd.DataFrame:
    """`exchanges` flattened: one row per asset × exchange × hour."""
    exploded = hourly[["asset", "day", "week_start", "exchanges"]].explode("exchanges", ignore_index=True)
    exploded = exploded.dropna(subset=["exchanges"])
    flat = pd.json_normalize(exploded["exchanges"].tolist())
    return pd.concat([exploded.drop(columns="exchanges").reset_index(drop=True), flat], axis=1)


def _group(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.groupby(keys, as_index=False)[MEASURES].sum().sort_values(keys, ignore_index=True)


def baseline_build(source: pd.DataFrame | Path | str) -> dict[str, pd.DataFrame]:
    """Daily and weekly totals, and the same by exchange, from raw rows or from a landing folder."""
    rows = source if isinstance(source, pd.DataFrame) else rows_from_landing(Path(source))
    hourly = _hourly(rows)
    exchanges = _by_exchange(hourly)
    return {name: _group(exchanges if "exchange" in keys else hourly, keys) for name, keys in FRAMES.items()}


def _normalised(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame[keys + MEASURES].copy()
    time_key = keys[-1]
    frame[time_key] = pd.to_datetime(frame[time_key]).astype("datetime64[ns]")
    for key in keys[:-1]:
        frame[key] = frame[key].astype(str)
    frame[MEASURES] = frame[MEASURES].astype("float64")
    return frame


def compare_frames(name: str, baseline: pd.DataFrame, exported: pd.DataFrame, *,
                   rel_tol: float = 1e-9) -> list[str]:
    """Differences between a baseline frame and an exported one, as readable lines (empty = same numbers).

    The models zero-fill covered hours and exchanges, so a row present only in the export must be all zero;
    a row present only in the baseline is always a difference.
    """
    keys = FRAMES[name]
    merged = _normalised(baseline, keys).merge(_normalised(exported, keys), on=keys, how="outer",
                                              suffixes=("_baseline", "_export"), indicator=True)
    problems = []
    only_baseline = merged[merged["_merge"] == "left_only"]
    if len(only_baseline):
        problems.append(f"{name}: {len(only_baseline)} row(s) only in the baseline, e.g. "
                        f"{only_baseline[keys].iloc[0].tolist()}")
    only_export = merged[merged["_merge"] == "right_only"]
    nonzero = only_export[[f"{m}_export" for m in MEASURES]].abs().sum(axis=1) > 0
    if nonzero.any():
        problems.append(f"{name}: {int(nonzero.sum())} non-zero row(s) only in the export, e.g. "
                        f"{only_export.loc[nonzero, keys].iloc[0].tolist()}")
    both = merged[merged["_merge"] == "both"]
    for measure in MEASURES:
        ours, theirs = both[f"{measure}_baseline"], both[f"{measure}_export"]
        tolerance = 0 if measure in TRADE_MEASURES else rel_tol * theirs.abs().clip(lower=1.0)
        wrong = (ours - theirs).abs() > tolerance
        if wrong.any():
            first = both.loc[wrong].iloc[0]
            problems.append(f"{name}.{measure}: {int(wrong.sum())} of {len(both)} row(s) differ, e.g. "
                            f"{first[keys].tolist()}: baseline {first[f'{measure}_baseline']!r}, "
                            f"export {first[f'{measure}_export']!r}")
    return problems


def compare_with_exports(frames: dict[str, pd.DataFrame], data_dir: Path) -> list[str]:
    """Compare the baseline's four frames with liqreport's `{name}.parquet` exports in `data_dir`."""
    problems = []
    for name in FRAMES:
        exported = pd.read_parquet(Path(data_dir) / f"{name}.parquet")
        problems.extend(compare_frames(name, frames[name], exported))
    return problems


def baseline_render(frames: dict[str, pd.DataFrame], start: datetime, end: datetime, out_dir: Path) -> int:
    """The report a pandas user would make: three pyplot charts per asset and `to_html` tables in one page.

    Returns the number of charts drawn.
    """
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    week_start = pd.Timestamp(start.replace(tzinfo=None))
    week_end = pd.Timestamp(end.replace(tzinfo=None))
    daily = frames["daily"][(frames["daily"]["day"] >= week_start) & (frames["daily"]["day"] < week_end)]
    weekly = frames["weekly"][frames["weekly"]["week_start"] < week_end]
    by_exchange = frames["weekly_by_exchange"][frames["weekly_by_exchange"]["week_start"] == week_start]

    def png(figure) -> str:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        plt.close(figure)
        return base64.b64encode(buffer.getvalue()).decode()

    sections, charts = [], 0
    for asset, days in daily.groupby("asset"):
        images = []
        figure, axes = plt.subplots(figsize=(8, 3))
        axes.bar(days["day"], days["long_amount"], label="long")
        axes.bar(days["day"], -days["short_amount"], label="short")
        axes.set_title(f"{asset}: daily liquidations (USD)")
        axes.legend()
        images.append(png(figure))
        weeks = weekly[weekly["asset"] == asset]
        figure, axes = plt.subplots(figsize=(8, 3))
        axes.bar(weeks["week_start"], weeks["total_amount"], width=5)
        axes.set_title(f"{asset}: weekly liquidations (USD)")
        images.append(png(figure))
        venues = by_exchange[by_exchange["asset"] == asset]
        figure, axes = plt.subplots(figsize=(8, 3))
        axes.barh(venues["exchange"], venues["total_amount"])
        axes.set_title(f"{asset}: by exchange (USD)")
        images.append(png(figure))
        charts += len(images)
        tags = "".join(f'<img src="data:image/png;base64,{image}">' for image in images)
        sections.append(f"<h2>{asset}</h2>{tags}{days.to_html(index=False)}{venues.to_html(index=False)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text(f"<html><body>{''.join(sections)}</body></html>", encoding="utf-8")
    return charts
