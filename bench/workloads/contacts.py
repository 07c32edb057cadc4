"""Create accounts with people and addresses: contacts' services against raw INSERTs."""

from __future__ import annotations

import uuid

from bench.harness import Context, Result, new_tenant, timed, workload
from bench.raw import Raw, now

PEOPLE = 2
ADDRESSES = 1


def insert_accounts(raw: Raw, tid: uuid.UUID, m: int) -> None:
    """The baseline: per account one transaction of INSERTs (account, people, address)."""
    for i in range(m):
        raw.begin()
        aid, at = uuid.uuid4(), now()
        raw.execute(
            "INSERT INTO contacts_account (id, tenant_id, name, kinds, status, email, tags,"
            " created_at, updated_at, version) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, 1)",
            (aid, tid, f"Account {i:06d}", ["customer"], f"a{i}@example.com", [], at, at),
        )
        for j in range(PEOPLE):
            raw.execute(
                "INSERT INTO contacts_person (id, tenant_id, account_id, first_name,"
                " last_name, email, is_primary, created_at, updated_at, version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (uuid.uuid4(), tid, aid, f"P{j}", f"Person {i}", f"p{j}.{i}@x.org", j == 0, at, at),
            )
        for _ in range(ADDRESSES):
            raw.execute(
                "INSERT INTO contacts_address (id, tenant_id, account_id, kind, street,"
                " city, postal_code, region, country, is_default, created_at, updated_at,"
                " version) VALUES (?, ?, ?, 'billing', ?, 'Berlin', '', '', 'DE', ?, ?, ?,"
                " 1)",
                (uuid.uuid4(), tid, aid, f"{i} Main St", True, at, at),
            )
        raw.commit()


@workload("contacts", m=(200, 10))
def contacts(ctx: Context) -> list[Result]:
    """M accounts, each with 2 people and 1 address, one transaction per account, through
    contacts.services; baseline: the same INSERTs (account, people, address)."""
    from addons.contacts import services
    from core.db import session
    from core.tenancy import tenant_context

    m = ctx.size("m")
    app = ctx.app
    tid, _ = new_tenant(app, "bench-contacts")
    base_tid, _ = new_tenant(app, "bench-contacts-raw")

    def pergola() -> None:
        with app.app_context(), tenant_context(tid):
            for i in range(m):
                account = services.create_account(
                    {
                        "name": f"Account {i:06d}",
                        "kinds": ["customer"],
                        "email": f"a{i}@example.com",
                    }
                )
                for j in range(PEOPLE):
                    services.add_person(
                        {
                            "account_id": account.id,
                            "first_name": f"P{j}",
                            "last_name": f"Person {i}",
                            "email": f"p{j}.{i}@x.org",
                        }
                    )
                for _ in range(ADDRESSES):
                    services.add_address(
                        account.id, {"street": f"{i} Main St", "city": "Berlin", "country": "DE"}
                    )
                session.commit()

    def baseline() -> None:
        raw = Raw(ctx.url, base_tid)
        insert_accounts(raw, base_tid, m)
        raw.close()

    t_per, t_raw = timed(pergola), timed(baseline)
    return [
        ctx.result(
            "contacts: accounts + 2 people + 1 address",
            "accounts/s",
            m / t_per,
            m / t_raw,
            note="one transaction per account; Pergola also writes "
            "events, audit rows and runs the contacts hooks",
        )
    ]
