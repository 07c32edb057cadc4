"""The dashboard: the landing page of a logged-in user, made of addons' widgets."""

from __future__ import annotations

import logging
from typing import Any

from flask import render_template, url_for
from markupsafe import escape

from core.auth import Principal
from core.web.widgets import Widget

log = logging.getLogger("pergola.web")


def kernel_widgets(principal: Principal) -> list[Widget]:
    """The kernel's own cards: the company's addons, for those who manage them."""
    from core.registry import current_registry

    widgets = []
    if principal.can("core.addons:manage"):
        registry = current_registry()
        enabled = sorted(registry.enabled_addons(principal.tenant_id))
        names = ", ".join(escape(registry.addons[n].manifest.summary or n) for n in enabled)
        widgets.append(
            Widget(
                "Apps",
                width=12,
                order=1000,
                html=(
                    f"<p>{len(enabled)} of {len(registry.addons)} installed apps are enabled"
                    f"{': ' + names if names else ''}.</p>"
                    f'<a class="btn btn-sm btn-outline-primary" '
                    f'href="{url_for("web_settings.addons")}">Manage apps</a>'
                ),
            )
        )
    return widgets


def collect_widgets(principal: Principal) -> list[Widget]:
    """Every widget for `principal`: the enabled addons' (through the hook), then the kernel's."""
    from core.registry import hook

    widgets: list[Widget] = []
    for batch in hook.dashboard_widgets(principal=principal):
        widgets.extend(w for w in batch or [] if isinstance(w, Widget))
    widgets.extend(kernel_widgets(principal))
    return sorted(widgets, key=lambda w: w.order)


def render_dashboard(principal: Principal) -> Any:
    """The dashboard page."""
    return render_template("web/dashboard.html", widgets=collect_widgets(principal))
