"""contacts' web pages: list, 360° account page, forms, duplicates and merge, CSV in and out.

Thin: each route reads the request, calls a service and renders. The accounts list and its
CSV export are the kernel's generic list (`core.web.views.ModelViews`, list and export pages
only) with contacts' own search (`services.accounts_query`), kind, status and tag filters,
and the import's CSV format. The 360° account page and the account forms stay written out:
kinds and tags are sets, addresses and people are child rows, other addons add form
sections and panels.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from addons.contacts import services, transfer
from addons.contacts.extensions import FormSection, Panel
from addons.contacts.models import ACCOUNT_KINDS, ACCOUNT_STATUSES, ADDRESS_KINDS, Account
from addons.contacts.schemas import AddressSchema, PersonSchema
from core.auth import current_principal, require_permission
from core.db import session
from core.errors import DomainError
from core.registry import hook
from core.tenancy import require_tenant_id
from core.web.forms import (
    FormField,
    attach_errors,
    fill_from_record,
    fill_from_request,
    form_fields,
    raw_input,
)
from core.web.record_page import Chatter, detail_panels
from core.web.views import Column, Filter, ModelViews

bp = Blueprint("contacts_web", __name__, url_prefix="/contacts")

ACCOUNT_FORM_FIELDS = (
    "name",
    "industry",
    "annual_revenue",
    "website",
    "email",
    "phone",
    "tax_id",
    "notes",
    "status",
    "owner_id",
)
PERSON_FORM = ("first_name", "last_name", "job_title", "email", "phone", "is_primary")
ADDRESS_FORM = ("kind", "street", "postal_code", "city", "region", "country", "is_default")
MAX_UPLOAD = 5 * 1024 * 1024


def may(permission: str) -> bool:
    """Whether the current user holds `permission` (templates hide what they may not do)."""
    principal = current_principal()
    return principal is not None and principal.can(permission)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"contacts_may": may}


def _crumbs(*extra: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [("Contacts", url_for("contacts_web.account_list")), *extra]


def _status_cell(account: Account) -> Markup:
    if account.status == "on_hold":
        return Markup('<span class="badge text-bg-warning">on hold</span>')
    return Markup.escape(account.status)


accounts = ModelViews(
    name="accounts",
    model=Account,
    title="Accounts",
    singular="Account",
    pages=("list", "export"),
    path="/",
    endpoints={"list": "account_list", "export": "export"},
    list_template="contacts/list.html",
    columns=[
        Column("name", link=True),
        Column("kinds", sortable=False, format=lambda kinds: ", ".join(kinds or ())),
        Column("status", html=_status_cell),
        Column("email"),
        Column("phone"),
        Column(
            "primary_contact",
            "Primary contact",
            format=lambda person: person.full_name if person else "",
        ),
        Column("created_at", "Created", format=lambda d: d.strftime("%Y-%m-%d")),
    ],
    # Full-text search on PostgreSQL, the SQLite index elsewhere: the service decides. The
    # page's people (for the primary contact column) come in one query, not one per row.
    query=lambda state: services.accounts_query(state.q or None).options(
        selectinload(Account.people)
    ),
    search_hint="Name, email or phone",
    filters=[
        Filter(
            "kind",
            "Kind",
            [(k, k.capitalize()) for k in ACCOUNT_KINDS],
            where=services.has_kind,
            arg="kind",
        ),
        Filter(
            "status",
            "Status",
            [(s, s.replace("_", " ").capitalize()) for s in ACCOUNT_STATUSES],
            arg="status",
        ),
        Filter("tag", "Tag", where=services.has_tag, arg="tag"),
    ],
    default_sort="name",
    permissions={"read": "contacts.accounts:read", "create": "contacts.accounts:create"},
    detail_url=lambda a: url_for("contacts_web.account_detail", account_id=a.id),
    new_url=lambda: url_for("contacts_web.account_new"),
    # The import's format (people and addresses included), so an export reads back in.
    export=transfer.export_csv,
)
accounts.register(bp)
account_feed = Chatter(
    Account.__tablename__,
    lambda rid: url_for("contacts_web.account_comment", record_id=rid),
)


@bp.get("/<uuid:account_id>")
@require_permission("contacts.accounts:read")
def account_detail(account_id: uuid.UUID) -> Any:
    """The 360° view: the account, its people and addresses, other addons' panels, activity."""
    return _render_detail(services.get_account(account_id, field="id"))


def _render_detail(account: Account, comment_error: str = "") -> Any:
    owners = dict(_owner_choices(account.owner_id))
    return render_template(
        "contacts/detail.html",
        account=account,
        owner=owners.get(str(account.owner_id)) if account.owner_id else None,
        panels=_panels(account),
        duplicates=services.duplicates_of(account),
        address_kinds=ADDRESS_KINDS,
        breadcrumbs=_crumbs((account.name, None)),
        **account_feed.context(account, comment_error),
    ), 422 if comment_error else 200


@bp.post("/<uuid:record_id>/comments")
@require_permission("contacts.accounts:read")
def account_comment(record_id: uuid.UUID) -> Any:
    """Add a comment to the account's activity feed (htmx swaps in the new feed)."""
    account = services.get_account(record_id, field="id")
    return account_feed.post_comment(
        account,
        page=lambda error: _render_detail(account, comment_error=error),
        detail_url=url_for("contacts_web.account_detail", account_id=record_id),
    )


def _owner_choices(current: uuid.UUID | None = None) -> list[tuple[str, str]]:
    """The tenant's active members as (user id, label) for the owner select, by email; a
    current owner who has left stays a choice, so saving the form does not drop them."""
    from core.models import Membership, User

    rows = session.execute(
        select(User.id, User.name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.tenant_id == require_tenant_id(),
            Membership.active.is_(True),
            User.active.is_(True),
        )
        .order_by(User.email)
    ).all()
    choices = [(str(uid), f"{name} <{email}>" if name else email) for uid, name, email in rows]
    if current is not None and str(current) not in dict(choices):
        email = session.scalar(select(User.email).where(User.id == current))
        choices.append((str(current), f"{email or current} (no longer a member)"))
    return choices


def _panels(account: Account) -> list[tuple[str, Markup]]:
    """Panels from account_panels (contacts' own hook) and the shell's detail_panels."""
    panels: list[Panel] = [p for batch in hook.account_panels(account=account) for p in batch or []]
    out: list[tuple[int, str, Markup]] = []
    for p in panels:
        html = render_template(p.template, account=account, **p.context) if p.template else p.html
        out.append((p.order, p.title, Markup(html)))
    out.extend((100, title, html) for title, html in detail_panels(Account.__tablename__, account))
    return [(title, html) for _order, title, html in sorted(out, key=lambda t: t[0])]


def _sections(account: Account | None) -> list[FormSection]:
    sections = [s for batch in hook.account_form_sections(account=account) for s in batch or []]
    return sorted(sections, key=lambda s: s.order)


def _form_data(sections: list[FormSection]) -> dict[str, Any]:
    """The submitted account form as service input (sections' fields included)."""
    form = request.form
    data: dict[str, Any] = {name: form.get(name, "") for name in ACCOUNT_FORM_FIELDS}
    if not data["status"]:
        data.pop("status")
    data["kinds"] = form.getlist("kinds")
    data["tags"] = [t.strip() for t in form.get("tags", "").split(",") if t.strip()]
    for section in sections:
        for f in section.fields:
            data[f.name] = (f.name in form) if f.type == "checkbox" else form.get(f.name, "")
    return data


def _render_form(
    account: Account | None,
    sections: list[FormSection],
    values: dict[str, Any],
    errors: dict[str, list[str]],
    message: str = "",
    status: int = 200,
) -> Any:
    heading = f"Edit {account.name}" if account else "New account"
    crumbs = _crumbs(
        *(
            [(account.name, url_for("contacts_web.account_detail", account_id=account.id))]
            if account
            else []
        ),
        ("Edit" if account else "New", None),
    )
    return render_template(
        "contacts/form.html",
        account=account,
        sections=sections,
        values=values,
        errors=errors,
        message=message,
        heading=heading,
        kinds=ACCOUNT_KINDS,
        statuses=ACCOUNT_STATUSES,
        owners=_owner_choices(account.owner_id if account else None),
        breadcrumbs=crumbs,
    ), status


def _values_of(account: Account) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(account, name) for name in ACCOUNT_FORM_FIELDS}
    values.update(kinds=list(account.kinds), tags=", ".join(account.tags), version=account.version)
    return {k: "" if v is None else v if k == "kinds" else str(v) for k, v in values.items()}


def _errors_of(err: DomainError) -> tuple[dict[str, list[str]], str]:
    if isinstance(err.details, dict) and err.details:
        return {
            str(k): list(v) if isinstance(v, list) else [str(v)] for k, v in err.details.items()
        }, ""
    return {}, err.message


@bp.route("/new", methods=["GET", "POST"])
@require_permission("contacts.accounts:create")
def account_new() -> Any:
    """Create an account (with the sections other addons add to the form)."""
    sections = _sections(None)
    if request.method == "GET":
        return _render_form(None, sections, {"kinds": ["customer"]}, {})
    data = _form_data(sections)
    try:
        account = services.create_account(data)
        session.commit()
    except DomainError as err:
        session.rollback()
        errors, message = _errors_of(err)
        data["tags"] = ", ".join(data["tags"])
        return _render_form(None, sections, data, errors, message, 422)
    flash(f"Account {account.name} created", "success")
    return redirect(url_for("contacts_web.account_detail", account_id=account.id), 303)


@bp.route("/<uuid:account_id>/edit", methods=["GET", "POST"])
@require_permission("contacts.accounts:update")
def account_edit(account_id: uuid.UUID) -> Any:
    """Change an account; a stale version is refused with a reload link, nothing saved."""
    account = services.get_account(account_id, field="id")
    sections = _sections(account)
    if request.method == "GET":
        return _render_form(account, sections, _values_of(account), {})
    data = _form_data(sections)
    version = request.form.get("version", type=int)
    try:
        services.update_account(account.id, data, partial=False, version=version)
        session.commit()
    except DomainError as err:
        session.rollback()
        errors, message = _errors_of(err)
        if err.code == "CONFLICT":
            errors, message = {}, err.message
        data["tags"] = ", ".join(data["tags"])
        data["version"] = version
        return _render_form(
            services.get_account(account_id, field="id"),
            sections,
            data,
            errors,
            message,
            err.status if err.status < 500 else 422,
        )
    flash("Account saved", "success")
    return redirect(url_for("contacts_web.account_detail", account_id=account_id), 303)


@bp.post("/<uuid:account_id>/delete")
@require_permission("contacts.accounts:delete")
def account_delete(account_id: uuid.UUID) -> Any:
    """Archive an account."""
    services.delete_account(account_id)
    session.commit()
    flash("Account archived", "success")
    return redirect(url_for("contacts_web.account_list"), 303)


@bp.post("/<uuid:account_id>/hold")
@require_permission("contacts.accounts:update")
def account_hold(account_id: uuid.UUID) -> Any:
    """Put an account on hold (or take it off with ?release=1)."""
    reason = request.form.get("reason", "")
    try:
        if request.form.get("release"):
            services.release(account_id, reason)
        else:
            services.place_on_hold(account_id, reason)
        session.commit()
        flash("Status changed", "success")
    except DomainError as err:
        session.rollback()
        flash(err.message, "danger")
    return redirect(url_for("contacts_web.account_detail", account_id=account_id), 303)


@bp.post("/<uuid:account_id>/people")
@require_permission("contacts.people:create")
def person_add(account_id: uuid.UUID) -> Any:
    """Add a person from the account page; errors re-show the form, what was typed kept."""
    account = services.get_account(account_id, field="id")
    form = form_fields(PersonSchema(), only=PERSON_FORM)
    data = {**raw_input(PersonSchema(), form, request.form), "account_id": str(account.id)}
    return _child_form_saved(
        form,
        lambda: services.add_person(data),
        account_id=account.id,
        done="Person added",
        heading=f"Add a person to {account.name}",
        action=url_for("contacts_web.person_add", account_id=account.id),
    )


@bp.route("/people/<uuid:person_id>/edit", methods=["GET", "POST"])
@require_permission("contacts.people:update")
def person_edit(person_id: uuid.UUID) -> Any:
    """Change a person: a labelled form, errors next to their fields, nothing lost."""
    person = services.get_person(person_id)
    account = person.account
    form = form_fields(PersonSchema(), only=PERSON_FORM)
    heading = f"Edit {person.full_name}"
    action = url_for("contacts_web.person_edit", person_id=person.id)
    if request.method == "GET":
        fill_from_record(form, {name: getattr(person, name) for name in PERSON_FORM})
        return _render_child_form(form, account, heading, action)
    data = raw_input(PersonSchema(), form, request.form)
    return _child_form_saved(
        form,
        lambda: services.update_person(person_id, data),
        account_id=account.id,
        done="Person saved",
        heading=heading,
        action=action,
    )


@bp.post("/people/<uuid:person_id>/delete")
@require_permission("contacts.people:delete")
def person_delete(person_id: uuid.UUID) -> Any:
    """Remove a person."""
    person = services.get_person(person_id)
    return _child_saved(
        person.account_id, lambda: services.delete_person(person_id), "Person removed"
    )


@bp.post("/<uuid:account_id>/addresses")
@require_permission("contacts.accounts:update")
def address_add(account_id: uuid.UUID) -> Any:
    """Add an address from the account page; errors re-show the form, what was typed kept."""
    account = services.get_account(account_id, field="id")
    form = form_fields(AddressSchema(), only=ADDRESS_FORM)
    data = raw_input(AddressSchema(), form, request.form)
    return _child_form_saved(
        form,
        lambda: services.add_address(account.id, data),
        account_id=account.id,
        done="Address added",
        heading=f"Add an address to {account.name}",
        action=url_for("contacts_web.address_add", account_id=account.id),
    )


@bp.route("/addresses/<uuid:address_id>/edit", methods=["GET", "POST"])
@require_permission("contacts.accounts:update")
def address_edit(address_id: uuid.UUID) -> Any:
    """Change an address: a labelled form, errors next to their fields, nothing lost."""
    address = services.get_address(address_id)
    account = address.account
    form = form_fields(AddressSchema(), only=ADDRESS_FORM)
    heading = f"Edit the {address.kind} address of {account.name}"
    action = url_for("contacts_web.address_edit", address_id=address.id)
    if request.method == "GET":
        fill_from_record(form, {name: getattr(address, name) for name in ADDRESS_FORM})
        return _render_child_form(form, account, heading, action)
    data = raw_input(AddressSchema(), form, request.form)
    return _child_form_saved(
        form,
        lambda: services.update_address(address_id, data),
        account_id=account.id,
        done="Address saved",
        heading=heading,
        action=action,
    )


@bp.post("/addresses/<uuid:address_id>/delete")
@require_permission("contacts.accounts:update")
def address_delete(address_id: uuid.UUID) -> Any:
    """Remove an address."""
    address = services.get_address(address_id)
    return _child_saved(
        address.account_id, lambda: services.delete_address(address_id), "Address removed"
    )


def _render_child_form(
    form: list[FormField],
    account: Account,
    heading: str,
    action: str,
    loose: list[str] | None = None,
    status: int = 200,
) -> Any:
    """The form of a person or an address of `account`."""
    return render_template(
        "contacts/child_form.html",
        form=form,
        heading=heading,
        action=action,
        loose=loose or [],
        invalid=any(f.errors for f in form) or bool(loose),
        cancel=url_for("contacts_web.account_detail", account_id=account.id),
        breadcrumbs=_crumbs(
            (account.name, url_for("contacts_web.account_detail", account_id=account.id)),
            (heading, None),
        ),
    ), status


def _child_form_saved(
    form: list[FormField],
    save: Any,
    *,
    account_id: uuid.UUID,
    done: str,
    heading: str,
    action: str,
) -> Any:
    """Run `save` (a service call) and go back to the account page; on a refusal, roll
    back and show the form again (422) with the messages by their fields and the input."""
    try:
        save()
        session.commit()
    except DomainError as err:
        session.rollback()
        fill_from_request(form, request.form)
        loose = attach_errors(form, err.details or {}) if err.details else [err.message]
        account = services.get_account(account_id, field="id")
        status = err.status if err.status < 500 else 422
        return _render_child_form(form, account, heading, action, loose, status)
    flash(done, "success")
    return redirect(url_for("contacts_web.account_detail", account_id=account_id), 303)


def _child_saved(account_id: uuid.UUID, action: Any, done: str) -> Any:
    try:
        action()
        session.commit()
        flash(done, "success")
    except DomainError as err:
        session.rollback()
        errors, message = _errors_of(err)
        text = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()) or message
        flash(f"Not saved — {text}", "danger")
    return redirect(url_for("contacts_web.account_detail", account_id=account_id), 303)


@bp.get("/duplicates")
@require_permission("contacts.accounts:read")
def duplicates() -> Any:
    """Accounts sharing an email or a tax id, each group with a merge form."""
    return render_template(
        "contacts/duplicates.html",
        groups=services.find_duplicates(),
        breadcrumbs=_crumbs(("Duplicates", None)),
    )


@bp.post("/merge")
@require_permission("contacts.accounts:update")
def merge() -> Any:
    """Merge the chosen duplicate into the chosen master."""
    master, duplicate = request.form.get("master_id", ""), request.form.get("duplicate_id", "")
    try:
        merged = services.merge(master, duplicate)
        session.commit()
    except DomainError as err:
        session.rollback()
        flash(f"Not merged — {err.message}", "danger")
        return redirect(url_for("contacts_web.duplicates"), 303)
    account = merged.account
    flash(f"Merged into {account.name}; the duplicate is archived", "success")
    if merged.dropped:
        flash("Not kept: " + "; ".join(merged.dropped), "warning")
    return redirect(url_for("contacts_web.account_detail", account_id=account.id), 303)


@bp.route("/import", methods=["GET", "POST"])
@require_permission("contacts.accounts:create")
def import_page() -> Any:
    """Upload a CSV: first a preview (nothing written), then import on confirmation."""
    crumbs = _crumbs(("Import", None))
    if request.method == "GET":
        return render_template(
            "contacts/import.html", result=None, breadcrumbs=crumbs, columns=transfer.COLUMNS
        )
    upload = request.files.get("file")
    text = request.form.get("csv_text", "")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            flash("the file is larger than 5 MB", "danger")
            return redirect(url_for("contacts_web.import_page"), 303)
        text = raw.decode("utf-8-sig", errors="replace")
    skip = bool(request.form.get("skip_bad_rows"))
    confirm = bool(request.form.get("confirm"))
    try:
        result = transfer.import_accounts(text, skip_bad_rows=skip, dry_run=not confirm)
        if confirm:
            session.commit()
    except DomainError as err:
        session.rollback()
        errors = err.result.errors if isinstance(err, transfer.ImportFailed) else []
        return render_template(
            "contacts/import.html",
            result=None,
            error=err.message,
            errors=errors,
            csv_text=text,
            skip=skip,
            breadcrumbs=crumbs,
            columns=transfer.COLUMNS,
        ), 422
    if confirm:
        flash(
            f"Imported {result.accounts} account(s), {result.people} person(s), "
            f"{result.addresses} address(es)"
            + (f"; skipped {len(result.errors)} error(s)" if result.errors else ""),
            "success",
        )
        return redirect(url_for("contacts_web.account_list"), 303)
    return render_template(
        "contacts/import.html",
        result=result,
        errors=result.errors,
        csv_text=text,
        skip=skip,
        breadcrumbs=crumbs,
        columns=transfer.COLUMNS,
    )
