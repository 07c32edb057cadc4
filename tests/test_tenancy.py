"""Tenant isolation: the kernel filters every read and stamps every write."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import aliased, selectinload

from core.errors import StaleVersion, TenantContextError, ValidationError
from core.tenancy import system_context, tenant_context
from tests.kernel_models import Project, Task


@pytest.fixture()
def two_tenants(session, make_tenant):
    """Tenants A and B, each with one project of two tasks."""
    a, b = make_tenant(), make_tenant()
    for t, name in ((a, "alpha"), (b, "beta")):
        with tenant_context(t.id):
            p = Project(name=name, budget=Decimal("100.00"))
            p.tasks = [
                Task(title=f"{name}-1", hours=Decimal("1.5")),
                Task(title=f"{name}-2", hours=Decimal("2.5")),
            ]
            session.add(p)
            session.flush()
    session.expunge_all()  # later reads must come from the database, not the identity map
    return a, b


def test_query_sees_only_current_tenant(session, two_tenants):
    a, _b = two_tenants
    with tenant_context(a.id):
        names = session.scalars(select(Project.name)).all()
        titles = session.scalars(select(Task.title).order_by(Task.title)).all()
    assert names == ["alpha"]
    assert titles == ["alpha-1", "alpha-2"]


def test_get_by_id_of_other_tenant_is_none(session, two_tenants):
    a, b = two_tenants
    with tenant_context(b.id):
        beta = session.scalars(select(Project)).one()
    with tenant_context(a.id):
        # Even though beta sits in the identity map, tenant A must not get it.
        assert session.get(Project, beta.id) is None
    session.expunge_all()
    with tenant_context(a.id):
        assert session.get(Project, beta.id) is None


def test_relationship_loads_are_filtered(session, two_tenants):
    _a, b = two_tenants
    with system_context():
        beta_id = session.scalars(select(Project.id).where(Project.name == "beta")).one()
        # Plant a task of tenant A under B's project: the relationship must hide it from B.
        alpha_task = session.scalars(select(Task).where(Task.title == "alpha-1")).one()
        session.execute(
            text("UPDATE test_task SET project_id = :p WHERE id = :t"),
            {
                "p": beta_id.hex if session.bind.dialect.name == "sqlite" else beta_id,
                "t": alpha_task.id.hex if session.bind.dialect.name == "sqlite" else alpha_task.id,
            },
        )
    session.expunge_all()
    with tenant_context(b.id):
        project = session.scalars(select(Project)).one()
        assert [t.title for t in project.tasks] == ["beta-1", "beta-2"]
        session.expunge_all()
        eager = session.scalars(select(Project).options(selectinload(Project.tasks))).one()
        assert [t.title for t in eager.tasks] == ["beta-1", "beta-2"]


def test_joins_aliases_counts_and_aggregates_are_filtered(session, two_tenants):
    a, _b = two_tenants
    with tenant_context(a.id):
        joined = session.execute(
            select(Project.name, Task.title).join(Task, Task.project_id == Project.id)
        ).all()
        assert {r.name for r in joined} == {"alpha"}
        t2 = aliased(Task)
        aliased_rows = session.scalars(select(t2.title)).all()
        assert sorted(aliased_rows) == ["alpha-1", "alpha-2"]
        assert session.scalar(select(func.count()).select_from(Task)) == 2
        assert session.scalar(select(func.count(Task.id))) == 2
        assert session.scalar(select(func.sum(Task.hours))) == Decimal("4.0")
        assert session.scalar(select(func.max(Project.budget))) == Decimal("100")


def test_no_tenant_in_context_fails_closed(session, two_tenants):
    with pytest.raises(TenantContextError):
        session.scalars(select(Project)).all()
    with pytest.raises(TenantContextError):
        session.scalar(select(func.count()).select_from(Task))
    with pytest.raises(TenantContextError):
        session.execute(select(Task.__table__.c.title)).all()


def test_insert_takes_current_tenant_and_fails_without_one(session, two_tenants):
    a, _ = two_tenants
    with tenant_context(a.id):
        p = Project(name="gamma")
        session.add(p)
        session.flush()
        assert p.tenant_id == a.id
    with pytest.raises(TenantContextError), session.begin_nested():
        session.add(Project(name="orphan"))
        session.flush()


def test_writing_a_row_into_another_tenant_is_refused(session, two_tenants):
    a, b = two_tenants
    with tenant_context(a.id), pytest.raises(TenantContextError), session.begin_nested():
        session.add(Project(name="sneaky", tenant_id=b.id))
        session.flush()


def test_foreign_key_to_other_tenants_row_is_refused(session, two_tenants):
    a, b = two_tenants
    with tenant_context(b.id):
        beta = session.scalars(select(Project)).one()
    with tenant_context(a.id):
        with pytest.raises(ValidationError) as err, session.begin_nested():
            session.add(Task(title="by id", project_id=beta.id))
            session.flush()
        assert err.value.details == {"project_id": ["no such record"]}
        with pytest.raises(ValidationError) as err, session.begin_nested():
            session.add(Task(title="by object", project=beta))
            session.flush()
        assert err.value.details == {"project": ["no such record"]}
        assert session.scalar(select(func.count()).select_from(Task)) == 2


def test_soft_delete_hides_and_restore_brings_back(session, two_tenants):
    a, _ = two_tenants
    with tenant_context(a.id):
        p = session.scalars(select(Project)).one()
        p.soft_delete()
        session.flush()
        session.expunge_all()
        assert session.scalars(select(Project)).all() == []
        assert session.get(Project, p.id) is None
        hidden = session.scalars(select(Project).execution_options(include_deleted=True)).one()
        assert hidden.is_deleted
        hidden.restore()
        session.flush()
        session.expunge_all()
        assert [x.name for x in session.scalars(select(Project))] == ["alpha"]


def test_stale_version_raises_conflict(committed):
    t = committed.tenant()
    with tenant_context(t.id):
        setup = committed.session()
        setup.add(Project(name="original"))
        setup.commit()
        setup.close()
        # Like a form: read now, submit later, while someone else saves in between.
        later = committed.session()
        stale = later.scalars(select(Project)).one()
        later.commit()
        other = committed.session()
        other.scalars(select(Project)).one().name = "first wins"
        other.commit()
        other.close()
        stale.name = "second is stale"
        with pytest.raises(StaleVersion):
            later.flush()
        later.rollback()
        later.close()
        check = committed.session()
        assert check.scalars(select(Project.name)).one() == "first wins"
        check.close()


def test_money_round_trips_exactly(session, tenant):
    amounts = [Decimal("0.1"), Decimal("1234567890.1234"), Decimal("-0.0001"), Decimal("19.99")]
    with tenant_context(tenant.id):
        for i, amt in enumerate(amounts):
            session.add(Project(name=f"p{i}", budget=amt))
        session.flush()
        session.expunge_all()
        got = {p.name: p.budget for p in session.scalars(select(Project))}
        assert [got[f"p{i}"] for i in range(len(amounts))] == amounts
        assert all(isinstance(v, Decimal) for v in got.values())
        total = session.scalar(select(func.sum(Project.budget)))
        assert Decimal(total).quantize(Decimal("0.0001")) == sum(amounts)
        with pytest.raises(Exception, match="never float"), session.begin_nested():
            session.add(Project(name="float", budget=0.1))
            session.flush()


@pytest.mark.postgres
def test_row_level_security_blocks_raw_sql(session, two_tenants):
    a, b = two_tenants
    with tenant_context(a.id):
        rows = session.execute(text("SELECT name FROM test_project")).scalars().all()
        tasks = session.execute(text("SELECT count(*) FROM test_task")).scalar_one()
        assert rows == ["alpha"]
        assert tasks == 2
        with pytest.raises(Exception, match="row-level security"), session.begin_nested():
            session.execute(
                text(
                    "INSERT INTO test_project (id, tenant_id, name, budget, created_at, "
                    "updated_at, version) VALUES (gen_random_uuid(), :t, 'x', 0, now(), "
                    "now(), 1)"
                ),
                {"t": b.id},
            )


def test_relationship_load_from_a_non_tenant_parent_is_filtered(session, make_tenant):
    """A membership is a kernel row, its roles are tenant-owned: the load obeys the context."""
    from core import services
    from core.models import Membership

    a, b = make_tenant(), make_tenant()
    with system_context():
        user = services.create_user("both@example.com", tenant_slug=a.slug, roles=["admin"])
        services.create_user("both@example.com", tenant_slug=b.slug, roles=["sales"])
        b_membership = session.scalars(
            select(Membership).where(Membership.user_id == user.id, Membership.tenant_id == b.id)
        ).one()
    session.expire(b_membership, ["roles"])
    with tenant_context(a.id):
        assert b_membership.roles == []  # tenant B's roles do not leak into A
    session.expire(b_membership, ["roles"])
    with pytest.raises(TenantContextError):
        b_membership.roles  # noqa: B018 - the load itself is what we test
    session.expire(b_membership, ["roles"])
    with tenant_context(b.id):
        assert [r.name for r in b_membership.roles] == ["sales"]


def test_bulk_update_by_primary_key_is_refused_in_a_tenant(session, two_tenants):
    """It has no WHERE clause for the tenant filter to join, so it must not run at all."""
    from sqlalchemy import update

    a, b = two_tenants
    with tenant_context(b.id):
        beta = session.scalars(select(Project)).one()
    with tenant_context(a.id), pytest.raises(TenantContextError):
        session.execute(
            update(Project), [{"id": beta.id, "version": beta.version, "name": "written by A"}]
        )
    session.expire_all()
    with tenant_context(b.id):
        assert session.scalars(select(Project.name)).one() == "beta"


@pytest.mark.parametrize("position", [0, 2, 4])
def test_a_flush_of_many_references_refuses_another_tenants_row_in_any_position(
    session, two_tenants, position
):
    """References are checked in one query per table: one bad id among many still fails."""
    a, b = two_tenants
    with tenant_context(b.id):
        beta = session.scalars(select(Project.id)).one()
    with tenant_context(a.id):
        alpha = session.scalars(select(Project.id)).one()
    session.expunge_all()  # neither project is in the session: the database is asked
    with tenant_context(a.id):
        ids = [alpha] * 5
        ids[position] = beta
        with pytest.raises(ValidationError) as err, session.begin_nested():
            session.add_all([Task(title=f"t{i}", project_id=p) for i, p in enumerate(ids)])
            session.flush()
        assert err.value.details == {"project_id": ["no such record"]}
        assert session.scalar(select(func.count()).select_from(Task)) == 2


def test_a_row_verified_for_one_tenant_is_not_taken_as_verified_for_another(session, two_tenants):
    a, b = two_tenants
    with tenant_context(b.id):
        beta = session.scalars(select(Project.id)).one()
    session.expunge_all()
    with tenant_context(b.id):
        session.add(Task(title="b's own", project_id=beta))
        session.flush()  # verified, for tenant B, for the rest of the transaction
    session.expunge_all()
    with tenant_context(a.id):
        with pytest.raises(ValidationError) as err, session.begin_nested():
            session.add(Task(title="a's", project_id=beta))
            session.flush()
        assert err.value.details == {"project_id": ["no such record"]}


@pytest.mark.postgres
def test_row_level_security_follows_the_context_across_savepoints(session, two_tenants):
    """A setting made inside a savepoint is undone by its rollback; the next read re-sets it."""
    a, b = two_tenants
    names = text("SELECT name FROM test_project")
    with tenant_context(a.id):
        assert session.execute(names).scalars().all() == ["alpha"]
        savepoint = session.begin_nested()
        with tenant_context(b.id):
            assert session.execute(names).scalars().all() == ["beta"]
        savepoint.rollback()
        with tenant_context(b.id):
            assert session.execute(names).scalars().all() == ["beta"]
        assert session.execute(names).scalars().all() == ["alpha"]
        with session.begin_nested(), tenant_context(b.id):
            assert session.execute(names).scalars().all() == ["beta"]
        assert session.execute(names).scalars().all() == ["alpha"]
