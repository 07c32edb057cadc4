"""An account's owner is a member of the tenant: anyone else is a VALIDATION_ERROR on owner_id."""

from __future__ import annotations

import uuid

import pytest

from addons.contacts import services
from core.errors import ValidationError
from tests.fixtures import count_rows


def test_a_member_of_the_tenant_may_own_an_account(acme, make_member, make_account):
    member = make_member(acme, roles=["sales"])
    account = make_account("Owned", owner_id=str(member.id))
    assert account.owner_id == member.id
    services.update_account(account.id, {"owner_id": None})
    assert account.owner_id is None


@pytest.mark.parametrize("who", ["nobody", "other tenant's user"])
def test_an_unknown_user_or_another_tenants_is_refused_on_owner_id_writing_nothing(
    make_tenant, as_tenant, make_member, session, who
):
    other = make_tenant()
    outsider = make_member(other, roles=["sales"])
    owner_id = str(uuid.uuid4()) if who == "nobody" else str(outsider.id)
    tenant = make_tenant()
    with as_tenant(tenant):
        account = services.create_account({"name": "Kept"})
        session.commit()
        with pytest.raises(ValidationError) as err:
            services.create_account({"name": "Orphan", "owner_id": owner_id})
        assert list(err.value.details) == ["owner_id"]
        session.rollback()
        assert count_rows("contacts_account") == 1
        with pytest.raises(ValidationError) as err:
            services.update_account(account.id, {"owner_id": owner_id, "industry": "Steel"})
        assert "owner_id" in err.value.details
        session.rollback()
        assert account.owner_id is None and account.industry is None


def test_an_owner_who_left_stays_until_someone_else_is_chosen(
    make_tenant, as_tenant, make_member, session
):
    from sqlalchemy import select

    from core.models import Membership

    tenant = make_tenant()
    member = make_member(tenant, roles=["sales"])
    with as_tenant(tenant):
        account = services.create_account({"name": "Owned", "owner_id": str(member.id)})
        membership = session.scalar(select(Membership).where(Membership.user_id == member.id))
        membership.active = False
        session.flush()
        # Editing other fields (a PUT sends the owner back unchanged) still works.
        services.update_account(
            account.id, {"name": "Renamed", "owner_id": str(member.id)}, partial=False
        )
        assert account.name == "Renamed" and account.owner_id == member.id
        with pytest.raises(ValidationError):
            services.create_account({"name": "New", "owner_id": str(member.id)})


def test_a_deactivated_user_is_refused_as_a_new_owner(make_tenant, as_tenant, make_member):
    from core.db import session

    tenant = make_tenant()
    member = make_member(tenant, roles=["sales"])
    with as_tenant(tenant):
        account = services.create_account({"name": "Kept"})
        member.active = False
        session.flush()
        with pytest.raises(ValidationError) as err:
            services.update_account(account.id, {"owner_id": str(member.id)})
        assert err.value.details == {"owner_id": ["this user is deactivated"]}
        session.rollback()
        assert account.owner_id is None


def test_the_api_answers_422_naming_owner_id_not_a_409(
    client, api_headers, make_tenant, make_member, as_tenant
):
    tenant = make_tenant()
    headers = api_headers(tenant, roles=["sales"])
    outsider = make_member(make_tenant(), roles=["sales"])
    colleague = make_member(tenant, roles=["sales"])
    for owner_id in (str(uuid.uuid4()), str(outsider.id)):
        resp = client.post(
            "/api/v1/contacts/accounts",
            json={"name": "Orphan", "owner_id": owner_id},
            headers=headers,
        )
        assert resp.status_code == 422, resp.get_json()
        error = resp.get_json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and "owner_id" in error["details"]
    with as_tenant(tenant):
        assert services.list_accounts().total == 0
    created = client.post(
        "/api/v1/contacts/accounts",
        json={"name": "Owned", "owner_id": str(colleague.id)},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    account_id = created.get_json()["data"]["id"]
    patched = client.patch(
        f"/api/v1/contacts/accounts/{account_id}",
        json={"owner_id": str(outsider.id)},
        headers=headers,
    )
    assert patched.status_code == 422 and "owner_id" in patched.get_json()["error"]["details"]
    shown = client.get(f"/api/v1/contacts/accounts/{account_id}", headers=headers)
    assert shown.get_json()["data"]["owner_id"] == str(colleague.id)
