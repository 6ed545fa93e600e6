"""The report's colours, one meaning each, shared by the charts, the page and the email.

Long and short liquidations have one colour each and no other element uses those hues: a dark burnt orange
for longs and a light blue for shorts, far apart in lightness (CIE L* 45 vs 72) so a greyscale print still
tells them apart. Text about a side is in that side's hue, dark enough to read on white (WCAG AA, 4.5:1).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    long: str = "#B8460B"  # fill and text of long liquidations: 5.4:1 on white
    short: str = "#7DB7E8"  # fill of short liquidations
    short_ink: str = "#1B5E91"  # text about shorts: the short hue, 6.9:1 on white
    ink: str = "#1F2328"
    muted: str = "#59636E"  # secondary text, 6.1:1 on white
    soft: str = "#F6F8FA"  # card and header backgrounds
    grid: str = "#E4E7EB"
    missing: str = "#A8ADB3"  # hatching of hours and days without data
    missing_fill: str = "#F1F2F4"
    previous: str = "#59636E"  # last period's dashed outline
    # sequential scale for heatmaps, near-white to a deep green: neither side's hue, monotonic in grey
    heat: tuple = ("#F4F9F1", "#A5D6A7", "#1B5E20")

    @property
    def long_ink(self) -> str:
        return self.long


PALETTE = Palette()
