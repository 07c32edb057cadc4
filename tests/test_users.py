"""Users: one account per email in any case, scrypt hashes, memberships in several tenants."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from core import services
from core.errors import Conflict, ValidationError
from core.models import User
from core.tenancy import system_context
from tests.fixtures import count_rows

PASSWORD = "correct horse battery"


def test_email_is_stored_lower_case_and_found_in_any_case(session, tenant, make_user):
    user = make_user(tenant, email="  Foo@Example.COM ")
    assert user.email == "foo@example.com"
    assert services.find_user("FOO@example.com") is user


def test_same_email_in_another_case_and_tenant_reuses_the_account(session, make_tenant):
    a, b = make_tenant(), make_tenant()
    with system_context():
        first = services.create_user("foo@x.com", tenant_slug=a.slug, password=PASSWORD)
        users = count_rows("core_user")
        again = services.create_user("Foo@X.com", tenant_slug=b.slug)
    assert again.id == first.id
    assert count_rows("core_user") == users
    assert {m.tenant_id for m in again.memberships} == {a.id, b.id}


def test_same_email_in_another_case_and_same_tenant_is_a_conflict(session, tenant, make_user):
    make_user(tenant, email="foo@x.com")
    users, members = count_rows("core_user"), count_rows("core_membership")
    with system_context(), pytest.raises(Conflict, match="already a member"):
        services.create_user("FOO@x.com", tenant_slug=tenant.slug)
    assert (count_rows("core_user"), count_rows("core_membership")) == (users, members)


def test_joining_another_tenant_keeps_the_existing_password(session, make_tenant):
    # Otherwise an admin of tenant B could take over the login someone uses in tenant A.
    a, b = make_tenant(), make_tenant()
    with system_context():
        services.create_user("ann@x.com", tenant_slug=a.slug, password=PASSWORD)
        services.create_user("ann@x.com", tenant_slug=b.slug, password="attacker chosen")
        assert services.authenticate("ann@x.com", PASSWORD) is not None
        assert services.authenticate("ann@x.com", "attacker chosen") is None


def test_the_database_refuses_a_second_account_for_the_same_email(session, tenant, make_user):
    make_user(tenant, email="foo@x.com")
    session.add(User(email="FOO@X.COM", name="dup"))  # the model lower-cases it
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize("email", ["", "foo", "foo@", "@x.com", "foo@x", "a b@x.com"])
def test_malformed_email_is_refused_naming_it(session, tenant, email):
    users = count_rows("core_user")
    with system_context(), pytest.raises(ValidationError) as err:
        services.create_user(email, tenant_slug=tenant.slug)
    assert err.value.field == "email"
    assert repr(email) in err.value.message
    assert count_rows("core_user") == users


def test_short_password_is_refused(session, tenant):
    with system_context(), pytest.raises(ValidationError, match="at least 8"):
        services.create_user("ann@x.com", tenant_slug=tenant.slug, password="short")
    assert services.find_user("ann@x.com") is None


def test_password_is_stored_as_a_scrypt_hash(session, tenant, make_user):
    user = make_user(tenant, password=PASSWORD)
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash
    assert services.check_password(user, PASSWORD)
    assert not services.check_password(user, PASSWORD.upper())


def test_inactive_user_cannot_log_in(session, tenant, make_user):
    user = make_user(tenant, email="ann@x.com", password=PASSWORD)
    user.active = False
    assert not services.check_password(user, PASSWORD)
    with system_context():
        assert services.authenticate("ann@x.com", PASSWORD) is None


def test_user_without_password_cannot_log_in(session, tenant):
    with system_context():
        user = services.create_user("ann@x.com", tenant_slug=tenant.slug)
        assert user.password_hash is None
        assert not services.check_password(user, "")
        assert services.authenticate("ann@x.com", "") is None


def test_authenticate_stamps_the_login_time(session, tenant, make_user):
    make_user(tenant, email="ann@x.com", password=PASSWORD)
    with system_context():
        assert services.authenticate("nobody@x.com", PASSWORD) is None
        user = services.authenticate("ANN@x.com", PASSWORD)
    assert user is not None
    assert user.last_login_at is not None
    assert user.last_login_at.tzinfo is not None


def test_user_in_two_tenants_has_two_memberships(session, make_tenant, make_user):
    a, b = make_tenant(), make_tenant()
    user = make_user(a, email="ann@x.com")
    make_user(b, email="ann@x.com")
    with system_context():
        memberships = services.memberships_of(user.id)
    assert sorted(m.tenant.slug for m in memberships) == sorted([a.slug, b.slug])
