"""Outgoing mail: SMTP when configured, else `.eml` files under instance/mail/ (embedded mode)."""

from __future__ import annotations

import os
import smtplib
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from flask import current_app


def send_mail(
    to: str, subject: str, body: str, attachments: Sequence[tuple[str, bytes, str]] = ()
) -> Path | None:
    """Send one plain-text mail with optional (filename, content, mimetype) attachments;
    returns the file written in embedded mode."""
    msg = EmailMessage()
    msg["From"] = os.environ.get("PERGOLA_SMTP_FROM", "pergola@localhost")
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@pergola>"
    msg.set_content(body, cte="8bit")  # long links must survive unwrapped
    for filename, content, mimetype in attachments:
        maintype, _, subtype = mimetype.partition("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    host = os.environ.get("PERGOLA_SMTP_HOST")
    if host:
        port = int(os.environ.get("PERGOLA_SMTP_PORT", "587"))
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            if os.environ.get("PERGOLA_SMTP_STARTTLS", "1") == "1":
                smtp.starttls()
            user = os.environ.get("PERGOLA_SMTP_USER")
            if user:
                smtp.login(user, os.environ.get("PERGOLA_SMTP_PASSWORD", ""))
            smtp.send_message(msg)
        return None
    folder = Path(current_app.instance_path) / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.eml"
    path.write_bytes(bytes(msg))
    return path
