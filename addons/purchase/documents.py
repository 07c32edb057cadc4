"""The purchase order as a PDF (reportlab), and sending it to the supplier by mail."""

from __future__ import annotations

import io
import uuid
from typing import Any

from addons.purchase import partners, services
from addons.purchase.models import PurchaseOrder
from core.errors import ValidationError

MAIL_EVENT = "purchase.order.sent"


def order_pdf(order: PurchaseOrder) -> bytes:
    """The order as a one-document PDF: supplier, lines, totals."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    account = partners.account(order.account_id)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"Purchase order {order.reference}")
    rows: list[list[Any]] = [["Product", "Quantity", "Unit cost", "Disc. %", "Tax %", "Net"]]
    for ln in order.lines:
        rows.append(
            [
                Paragraph(ln.description, styles["BodyText"]),
                f"{ln.quantity.normalize():f}",
                f"{ln.unit_cost.normalize():f}",
                f"{ln.discount_pct.normalize():f}",
                f"{ln.tax_rate.normalize():f}",
                f"{ln.amount_net:.2f}",
            ]
        )
    for label, amount in (
        ("Untaxed", order.amount_untaxed),
        ("Tax", order.amount_tax),
        (f"Total {order.currency}", order.amount_total),
    ):
        rows.append(["", "", "", "", label, f"{amount:.2f}"])
    table = Table(rows, colWidths=[200, 60, 60, 45, 70, 70], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                (
                    "LINEABOVE",
                    (0, len(order.lines) + 1),
                    (-1, len(order.lines) + 1),
                    0.5,
                    colors.black,
                ),
            ]
        )
    )
    story = [
        Paragraph(f"Purchase order {order.reference}", styles["Title"]),
        Paragraph(f"Supplier: {account.name}", styles["Normal"]),
        Paragraph(f"Order date: {order.order_date.isoformat()}", styles["Normal"]),
        Paragraph(
            "Expected delivery: "
            + (order.expected_date.isoformat() if order.expected_date else "as agreed"),
            styles["Normal"],
        ),
        Spacer(1, 12),
        table,
    ]
    if order.notes:
        story += [Spacer(1, 12), Paragraph(order.notes, styles["BodyText"])]
    doc.build(story)
    return buffer.getvalue()


def send_to_supplier(order_id: Any, to: str | None = None) -> PurchaseOrder:
    """Mark the order sent (numbering it) and mail its PDF to the supplier after commit.

    The mail goes out from an event handler, so it is sent only if the order really was
    marked sent, and retried if the mail server is down.
    """
    order = services.get_order(order_id)
    address = (to or partners.account(order.account_id).email or "").strip()
    if not address or "@" not in address:
        raise ValidationError(
            "the supplier has no email address: add one to the account or give one", field="to"
        )
    order = services.send_order(order.id)
    services.emit(MAIL_EVENT, {"order_id": str(order.id), "number": order.number, "to": address})
    return order


def mail_order(order_id: uuid.UUID | str, to: str) -> None:
    """Mail the order's PDF to `to` (the handler of `purchase.order.sent`)."""
    from core.mailer import send_mail

    order = services.get_order(order_id)
    account = partners.account(order.account_id)
    body = (
        f"Dear {account.name},\n\nplease find attached our purchase order "
        f"{order.reference} ({order.amount_total} {order.currency}).\n"
        + (
            f"We expect delivery by {order.expected_date.isoformat()}.\n"
            if order.expected_date
            else ""
        )
        + "\nPlease confirm the order and its delivery date.\n"
    )
    send_mail(
        to,
        f"Purchase order {order.reference}",
        body,
        attachments=[(f"{order.reference}.pdf", order_pdf(order), "application/pdf")],
    )
