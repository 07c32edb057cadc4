"""contacts' JSON API."""

from flask import Blueprint

bp = Blueprint("contacts_api", __name__, url_prefix="/api/v1/contacts")
