"""contacts' web pages."""

from flask import Blueprint

bp = Blueprint("contacts_web", __name__, url_prefix="/contacts", template_folder="templates")
