"""What every record's detail page shares: other addons' panels and the activity feed.

The generic detail page (`ModelViews`) uses these, and so does an addon's own page
(contacts' account, inventory's product, purchase's order), so the feed and its comment
box behave the same everywhere:

    product_feed = Chatter("inventory_product",
                           lambda rid: url_for("inventory_web.product_comment", product_id=rid))

    @web.post("/products/<uuid:product_id>/comments")
    @require_permission("inventory.products:read")
    def product_comment(product_id):
        product = services.find_product(product_id)
        return product_feed.post_comment(
            product,
            page=lambda error: product_detail(product_id, comment_error=error),
            detail_url=url_for(".product_detail", product_id=product_id),
        )

and the page's template gets `**product_feed.context(product, comment_error)` and includes
`web/_activity.html`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, render_template, request
from markupsafe import Markup

from core.db import session
from core.errors import DomainError
from core.web import activity


def detail_panels(model_name: str, record: Any) -> list[tuple[str, Markup]]:
    """(title, html) panels the tenant's enabled addons add to a record's page."""
    from core.registry import hook

    return [
        (str(title), Markup(html))
        for batch in hook.detail_panels(model_name=model_name, record=record)
        for title, html in batch or []
    ]


@dataclass(frozen=True)
class Chatter:
    """The activity feed of one kind of record: its template context and its comment route."""

    table_name: str
    # Record id -> the URL its comment box posts to (the addon's own route).
    comment_url: Callable[[Any], str]

    def context(self, record: Any, comment_error: str = "") -> dict[str, Any]:
        """What `web/_activity.html` needs: the record, its feed, the box's URL and error."""
        return {
            "record": record,
            "feed": activity.feed(self.table_name, record.id),
            "comment_action": self.comment_url(record.id),
            "comment_error": comment_error,
        }

    def fragment(self, record: Any, comment_error: str = "") -> str:
        """The feed alone, for htmx to swap in after a comment."""
        return render_template("web/_activity.html", **self.context(record, comment_error))

    def post_comment(self, record: Any, *, page: Callable[[str], Any], detail_url: str) -> Any:
        """Answer a comment POST: htmx gets the new feed (422 with the error on bad input);
        without JavaScript, a redirect to `detail_url`, or `page(error)` re-rendered."""
        htmx = bool(request.headers.get("HX-Request"))
        try:
            activity.add_comment(self.table_name, record.id, request.form.get("body", ""))
            session.commit()
        except DomainError as err:
            session.rollback()
            if htmx:
                return self.fragment(record, err.message), 422
            return page(err.message)
        if htmx:
            return self.fragment(record)
        flash("Comment added", "success")
        return redirect(detail_url, 303)
