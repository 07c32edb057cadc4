"""The `pergola` command: tenants, users and demo data; bad input is one line and no writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from core import services
from core.tenancy import system_context
from tests.fixtures import count_rows

TABLES = ("core_tenant", "core_user", "core_membership")


@pytest.fixture()
def rows(app: Flask, db) -> Callable[[], dict[str, int]]:
    """`rows()` counts the kernel's tables, in a context of its own like a CLI command's."""

    def snapshot() -> dict[str, int]:
        with app.app_context():
            return {t: count_rows(t) for t in TABLES}

    return snapshot


def one_line(output: str) -> str:
    """The output, which must be exactly one non-empty line."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_tenant_create_then_list_shows_it(runner):
    created = runner.invoke(["tenant", "create", "acme", "--name", "Acme"])
    assert created.exit_code == 0, created.output
    assert "acme" in created.output

    listed = runner.invoke(["tenant", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if line.startswith("acme "))
    assert "Acme" in line
    assert "active" in line


def test_duplicate_slug_exits_1_with_one_line_and_writes_nothing(runner, rows):
    assert runner.invoke(["tenant", "create", "acme", "--name", "Acme"]).exit_code == 0
    before = rows()

    result = runner.invoke(["tenant", "create", "acme", "--name", "Acme Again"])

    assert result.exit_code == 1
    assert one_line(result.output) == "Error: tenant 'acme' already exists"
    assert rows() == before


def test_invalid_slug_exits_1_naming_the_slug(runner, rows):
    before = rows()
    result = runner.invoke(["tenant", "create", "Not A Slug", "--name", "X"])
    assert result.exit_code == 1
    assert "'Not A Slug'" in one_line(result.output)
    assert rows() == before


def test_missing_name_is_a_usage_error_exit_2(runner, rows):
    before = rows()
    result = runner.invoke(["tenant", "create", "acme"])
    assert result.exit_code == 2
    assert "--name" in result.output
    assert rows() == before


def test_user_create_in_unknown_tenant_exits_1_and_writes_nothing(runner, rows):
    before = rows()
    result = runner.invoke(["user", "create", "ann@example.com", "--tenant", "nope"])
    assert result.exit_code == 1
    assert one_line(result.output) == "Error: unknown tenant 'nope'"
    assert rows() == before


def test_user_create_with_malformed_email_exits_1_naming_it(runner, rows):
    assert runner.invoke(["tenant", "create", "acme", "--name", "Acme"]).exit_code == 0
    before = rows()
    result = runner.invoke(["user", "create", "ann-at-example.com", "--tenant", "acme"])
    assert result.exit_code == 1
    assert "ann-at-example.com" in one_line(result.output)
    assert rows() == before


def test_user_create_with_short_stdin_password_exits_1(runner, rows):
    assert runner.invoke(["tenant", "create", "acme", "--name", "Acme"]).exit_code == 0
    before = rows()
    result = runner.invoke(
        ["user", "create", "ann@example.com", "--tenant", "acme", "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code == 1
    assert "password" in one_line(result.output)
    assert rows() == before


def test_user_create_password_stdin_lets_the_user_authenticate(app, runner):
    assert runner.invoke(["tenant", "create", "acme", "--name", "Acme"]).exit_code == 0
    result = runner.invoke(
        ["user", "create", "Ann@Example.com", "--tenant", "acme", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    assert "ann@example.com" in result.output
    assert "password:" not in result.output  # nothing generated, so nothing to print

    with app.app_context(), system_context():
        assert services.authenticate("ann@example.com", "wrong password") is None
        user = services.authenticate("ANN@example.com", "correct horse battery")
        assert user is not None
        assert [m.tenant.slug for m in user.memberships] == ["acme"]


def test_user_create_without_stdin_prints_a_generated_password_that_works(app, runner):
    assert runner.invoke(["tenant", "create", "acme", "--name", "Acme"]).exit_code == 0
    result = runner.invoke(["user", "create", "bob@example.com", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    password = next(
        line.split(":", 1)[1].strip()
        for line in result.output.splitlines()
        if line.startswith("password:")
    )
    with app.app_context(), system_context():
        assert services.authenticate("bob@example.com", password) is not None


def test_demo_twice_is_idempotent_and_prints_the_login(app, runner, rows, monkeypatch):
    monkeypatch.setenv("PERGOLA_DEMO_PASSWORD", "demo-password-123")
    first = runner.invoke(["demo"])
    assert first.exit_code == 0, first.output
    after_first = rows()
    second = runner.invoke(["demo"])
    assert second.exit_code == 0, second.output

    assert rows() == after_first
    for result in (first, second):
        assert "login: admin@demo.example.com" in result.output
        assert "password: demo-password-123" in result.output
    with app.app_context(), system_context():
        tenant = services.get_tenant("demo")
        user = services.authenticate("admin@demo.example.com", "demo-password-123")
        assert user is not None
        assert [m.tenant_id for m in user.memberships] == [tenant.id]


def test_demo_without_env_password_keeps_the_generated_one(app, runner, monkeypatch):
    monkeypatch.delenv("PERGOLA_DEMO_PASSWORD", raising=False)
    outputs = [runner.invoke(["demo"]).output for _ in range(2)]
    passwords = [
        next(line for line in out.splitlines() if line.startswith("password:")) for out in outputs
    ]
    assert passwords[0] == passwords[1]
    assert len(passwords[0]) > len("password: ") + 8


def test_user_create_for_an_existing_account_joins_and_keeps_its_password(app, runner):
    for slug in ("acme", "globex"):
        assert runner.invoke(["tenant", "create", slug, "--name", slug.title()]).exit_code == 0
    first = runner.invoke(
        ["user", "create", "ann@example.com", "--tenant", "acme", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert first.exit_code == 0, first.output

    second = runner.invoke(["user", "create", "ANN@example.com", "--tenant", "globex"])

    assert second.exit_code == 0, second.output
    assert "existing user ann@example.com" in second.output
    assert "password:" not in second.output
    with app.app_context(), system_context():
        user = services.authenticate("ann@example.com", "correct horse battery")
        assert user is not None
        assert sorted(m.tenant.slug for m in user.memberships) == ["acme", "globex"]
