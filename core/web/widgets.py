"""Dashboard widgets: cards addons contribute through `dashboard_widgets`, and the chart one."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

CHART_KINDS = ("bar", "line", "pie", "doughnut")


@dataclass(frozen=True)
class Widget:
    """A dashboard card: a title and trusted HTML (escape what you put in); `width` of 12."""

    title: str
    html: str = ""
    width: int = 6
    order: int = 100

    @property
    def body(self) -> Markup:
        """The card's body as markup for the template."""
        return Markup(self.html)


@dataclass(frozen=True)
class ChartWidget(Widget):
    """A chart the kernel draws with Chart.js; the addon only gives labels and series.

    `datasets` are `{"label": "Orders", "data": [3, 5, 2]}` mappings, one per series.
    """

    kind: str = "bar"
    labels: Sequence[str] = ()
    datasets: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in CHART_KINDS:
            raise ValueError(f"chart kind must be one of {', '.join(CHART_KINDS)}")

    def config_json(self) -> str:
        """The Chart.js configuration, as JSON for a `<script type="application/json">`."""
        config = {
            "type": self.kind,
            "data": {
                "labels": [str(x) for x in self.labels],
                "datasets": [dict(d) for d in self.datasets],
            },
            "options": {
                "responsive": True,
                "maintainAspectRatio": False,
                "plugins": {
                    "legend": {
                        "display": len(self.datasets) > 1 or self.kind in ("pie", "doughnut")
                    }
                },
            },
        }
        # Escape "<" so a label cannot close the script element it sits in.
        return json.dumps(config, default=str).replace("<", "\\u003c")
