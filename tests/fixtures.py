"""Shared fixtures: the app on SQLite or PostgreSQL, a rolled-back session per test, factories.

Choose the database with `--db-url URL` or `PERGOLA_TEST_DATABASE_URL`; the default is a
SQLite file in a temporary folder. `make test` runs the suite once on each.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import make_url, text

from core import create_app, migrate
from core.config import normalise_database_url
from core.db import Database, get_db
from core.tenancy import ensure_rls, system_context, tenant_context
from tests.fixture_addons.fixtures import (  # noqa: F401 - fixtures for the registry tests
    fx,
    fx_app,
    fx_client,
    fx_runner,
    fx_tenant,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db-url", default=None, help="database URL for the test run")


def pytest_configure(config: pytest.Config) -> None:
    from tests.hook_coverage import HookCoverage

    # A full run fails when a hookspec is exercised by no test.
    config.pluginmanager.register(HookCoverage(config), "pergola-hook-coverage")


def _db_url(config: pytest.Config, tmp: Path) -> str:
    url = config.getoption("--db-url") or os.environ.get("PERGOLA_TEST_DATABASE_URL")
    return normalise_database_url(url) if url else f"sqlite:///{tmp / 'test.db'}"


def pytest_report_header(config: pytest.Config) -> str:
    url = config.getoption("--db-url") or os.environ.get("PERGOLA_TEST_DATABASE_URL")
    # Say which database this run is on: the suite runs twice and the logs must tell them apart.
    shown = make_url(normalise_database_url(url)).render_as_string() if url else "SQLite (temp)"
    return f"pergola database: {shown}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    url = config.getoption("--db-url") or os.environ.get("PERGOLA_TEST_DATABASE_URL") or ""
    on_pg = url.startswith("postgres")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set PERGOLA_TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not on_pg:
            item.add_marker(skip_pg)


def reset_database(db: Database) -> None:
    """Drop every table (PostgreSQL: the whole schema) so migrations start from empty."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        return
    # SQLite ignores `PRAGMA foreign_keys` inside a transaction, and every SQLAlchemy
    # transaction here starts with BEGIN IMMEDIATE: set it on the driver's connection first.
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            names = [
                row[0]
                for row in raw.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for name in names:
                raw.execute(f'DROP TABLE IF EXISTS "{name}"')
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


@pytest.fixture(scope="session")
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the database this run tests against."""
    return _db_url(request.config, tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def app(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for the run, its schema built by the real migrations plus the test models."""
    from tests.kernel_models import test_tables
    from tests.testkit.manifest import manifest as testkit_manifest

    instance = tmp_path_factory.mktemp("instance")
    application = create_app(
        {
            "database_url": db_url,
            "testing": True,
            "instance_path": str(instance),
            "secret_key": "test-secret-of-at-least-32-bytes-long",
            "csrf": False,
            "secure_cookies": False,
            "extra_addons": [testkit_manifest],
        }
    )
    application.test_client_class = IsolatedClient
    db = get_db(application)
    reset_database(db)
    with application.app_context():
        migrate.upgrade(application)
    with db.engine.begin() as conn:
        from core.db import Base

        Base.metadata.create_all(conn, tables=test_tables())
        ensure_rls(conn)
    yield application
    db.dispose()


@pytest.fixture()
def db(app: Flask) -> Iterator[Database]:
    """The app's database with every session bound to one connection rolled back afterwards."""
    database = get_db(app)
    conn = database.engine.connect()
    trans = conn.begin()
    database.bind_to(conn)
    try:
        yield database
    finally:
        database.bind_to(database.engine)
        trans.rollback()
        conn.close()


@pytest.fixture()
def app_ctx(app: Flask, db: Database) -> Iterator[Flask]:
    """An app context whose session takes part in the test's rolled-back transaction."""
    with app.app_context():
        yield app


@pytest.fixture()
def session(app_ctx: Flask):
    """The current session (rolled back at the end of the test)."""
    from core.db import get_session

    return get_session()


_seq = itertools.count(1)


@pytest.fixture()
def make_tenant(session):
    """Factory: `make_tenant("acme")` creates a tenant (slug defaults to a unique one)."""
    from core import services

    def factory(slug: str | None = None, name: str | None = None):
        slug = slug or f"t{next(_seq)}-{os.getpid()}"
        with system_context():
            return services.create_tenant(slug, name or slug.title())

    return factory


@pytest.fixture()
def make_user(session):
    """Factory: `make_user(tenant, email=None, password=...)` creates a member of `tenant`."""
    from core import services

    def factory(tenant, email: str | None = None, password: str = "correct horse battery"):
        email = email or f"user{next(_seq)}@example.com"
        with system_context():
            return services.create_user(email, tenant_slug=tenant.slug, password=password)

    return factory


@pytest.fixture()
def tenant(make_tenant):
    """A fresh tenant."""
    return make_tenant()


@pytest.fixture()
def as_tenant():
    """`with as_tenant(t): ...` runs the block in tenant `t`'s context."""

    def enter(t):
        return tenant_context(t.id)

    return enter


@pytest.fixture()
def runner(app: Flask, db: Database):
    """A CLI runner for `pergola` commands on the test database."""
    from cli.main import cli

    class Runner:
        def invoke(self, args: list[str], input: str | None = None):
            # A fresh app context, as a real command gets: its own session, its own rollback.
            with app.app_context():
                return app.test_cli_runner().invoke(cli, args, input=input)

    return Runner()


def count_rows(table: str) -> int:
    """Rows in `table`, ignoring tenancy (for 'nothing was written' checks)."""
    from core.db import session

    with system_context():
        return session.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()


class Committed:
    """Real commits on real connections (for concurrency and multi-session tests).

    Tenants made here are removed with all their rows at the end of the test.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.database = get_db(app)
        self.tenant_ids: list = []
        self.user_ids: list = []

    def session(self):
        """A new session on its own pooled connection; close it yourself."""
        return self.database.new_session()

    def tenant(self, slug: str | None = None):
        """Create and commit a tenant."""
        from core import services

        with self.app.app_context(), system_context():
            t = services.create_tenant(slug or f"c{next(_seq)}-{os.getpid()}", "Committed")
            from core.db import session

            session.commit()
            self.tenant_ids.append(t.id)
            return t

    def cleanup(self) -> None:
        """Delete every row of the tenants made here."""
        from core.db import Base

        if not self.tenant_ids:
            return
        with self.database.session_scope() as s, system_context():
            # Test-only tables of other test packages may be mapped but not created here
            # (each addon's tests get their own app and freshly migrated database).
            present = set(sa_inspect(s.connection()).get_table_names())
            tenants = Base.metadata.tables["core_tenant"]
            # Append-only ledgers (stock movements) may be deleted only with their tenant.
            s.execute(
                tenants.update().where(tenants.c.id.in_(self.tenant_ids)).values(status="purging")
            )
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in present:
                    continue
                # The audit log is append-only; it goes with its tenant (ON DELETE CASCADE).
                if "tenant_id" in table.c and table.name not in ("core_tenant", "core_audit_log"):
                    s.execute(table.delete().where(table.c.tenant_id.in_(self.tenant_ids)))
            users = Base.metadata.tables["core_user"]
            members = Base.metadata.tables["core_membership"]
            s.execute(users.delete().where(~users.c.id.in_(select_ids(members.c.user_id))))
            s.execute(tenants.delete().where(tenants.c.id.in_(self.tenant_ids)))


def select_ids(column):
    """`SELECT column` for use in an IN clause."""
    from sqlalchemy import select

    return select(column)


@pytest.fixture()
def committed(app: Flask) -> Iterator[Committed]:
    """Work with real commits; the tenants made through it are cleaned up afterwards."""
    helper = Committed(app)
    try:
        yield helper
    finally:
        helper.cleanup()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request: pytest.FixtureRequest):
    """Each test starts with empty rate-limit counters (the limiter is process-wide)."""
    from core.ratelimit import limiter

    if "app" in request.fixturenames:
        # Its storage is process-wide too: an app a test built on its own Redis (since
        # stopped) must not stay the one that counts for the shared app.
        limiter.init_app(request.getfixturevalue("app"))
    # Not initialised yet in tests that build no app.
    with contextlib.suppress(Exception):
        limiter.reset()
    yield


class IsolatedClient(FlaskClient):
    """A test client whose requests run in a fresh context, as in production.

    Flask reuses an app context that is already pushed (the test's own), so `g`, and
    everything cached on it such as Flask-Login's user, would leak between requests.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture()
def client(app: Flask, db: Database):
    """A test client on the rolled-back test database."""
    return app.test_client()


@pytest.fixture()
def make_member(make_user, as_tenant, session):
    """Factory: `make_member(tenant, roles=["sales"])` → a user with those roles in `tenant`."""
    from sqlalchemy import select

    from core.models import Membership
    from core.rbac import assign_roles

    def factory(tenant, roles=("admin",), email=None, password="correct horse battery"):
        user = make_user(tenant, email=email, password=password)
        with as_tenant(tenant):
            membership = session.scalar(
                select(Membership).where(
                    Membership.user_id == user.id, Membership.tenant_id == tenant.id
                )
            )
            assign_roles(membership, roles)
        return user

    return factory


@pytest.fixture()
def count_selects(app):
    """`with count_selects() as seen:` collects the SELECT statements the block sends.

    PostgreSQL's tenant setting (`set_config`) is bookkeeping, not a query, so it is left
    out; tests of N+1 queries compare `len(seen)` for a small and a large page."""
    from sqlalchemy import event

    from core.db import get_db

    @contextlib.contextmanager
    def counting() -> Iterator[list[str]]:
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("SELECT") and "set_config" not in statement:
                seen.append(statement)

        engine = get_db(app).engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", count)

    return counting


@pytest.fixture()
def web_login():
    """`web_login(client, tenant, user)`: log `user` in to `tenant` through the login form."""

    def log_in(client, tenant, user, password="correct horse battery"):
        resp = client.post(
            "/login", data={"email": user.email, "password": password, "tenant": tenant.slug}
        )
        assert resp.status_code in (302, 303), resp.data[:300]
        return user

    return log_in


@pytest.fixture()
def api_headers(app, client, make_member):
    """Factory: bearer headers for a new member of `tenant` with `roles` (via the login API)."""

    def factory(tenant, roles=("admin",)):
        user = make_member(tenant, roles=roles)
        resp = client.post(
            "/api/v1/auth/login",
            json={"email": user.email, "password": "correct horse battery", "tenant": tenant.slug},
        )
        assert resp.status_code == 200, resp.get_json()
        return {"Authorization": f"Bearer {resp.get_json()['data']['access_token']}"}

    return factory


def dashboard_cards(html: str) -> dict[str, str]:
    """The dashboard page's widget cards, title -> body html (for addons' widget tests)."""
    cards = re.findall(
        r'<div class="card-header" id="widget-\d+">(.*?)</div>\s*<div class="card-body">(.*?)'
        r"</section>",
        html,
        re.S,
    )
    return {title.strip(): body for title, body in cards}


def fresh_database(db_url: str, folder: Path, prefix: str) -> Iterator[str]:
    """Yield the URL of a brand-new empty database beside `db_url`, dropped afterwards.

    SQLite: a new file in `folder`. PostgreSQL: a new database on the same server (the
    test role has CREATEDB), dropped with FORCE when the caller is done.
    """
    import uuid

    from sqlalchemy import create_engine

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{folder / (prefix + '.db')}"
        return
    name = f"pergola_{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@contextlib.contextmanager
def app_on(url: str, folder: Path) -> Iterator[Flask]:
    """An app on database `url` (nothing migrated yet), as `pergola db upgrade` would see
    it; its connections are closed afterwards so the database can be dropped."""
    application = create_app(
        {
            "database_url": url,
            "testing": True,
            "instance_path": str(folder / "instance"),
            "secret_key": "x",
        }
    )
    try:
        yield application
    finally:
        get_db(application).dispose()
