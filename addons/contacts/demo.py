"""Demo data: fifty accounts with people and addresses; loading twice adds nothing."""

from __future__ import annotations

import random

from sqlalchemy import select

from addons.contacts import services
from addons.contacts.models import Account

DEMO_TAG = "demo"
_PREFIXES = (
    "Alpine",
    "Blue",
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iron",
    "Juniper",
)
_SUFFIXES = ("Logistics", "Foods", "Robotics", "Textiles", "Energy")
_INDUSTRIES = ("Manufacturing", "Retail", "Logistics", "Software", "Food", "Energy")
_PLACES = (
    ("Berlin", "10115", "DE"),
    ("Lyon", "69001", "FR"),
    ("Austin", "73301", "US"),
    ("Milan", "20121", "IT"),
    ("Leeds", "LS1 1AA", "GB"),
    ("Porto", "4000-001", "PT"),
)
_FIRST = ("Ann", "Bruno", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas")
_LAST = ("Meyer", "Rossi", "Smith", "Dubois", "Silva", "Novak", "Kim", "Larsen")
_TITLES = ("Buyer", "CFO", "Head of Operations", "Office Manager", "Sales Director")


def load_demo(count: int = 50) -> int:
    """Create the demo accounts the tenant in context lacks; returns how many were added."""
    rng = random.Random(20261121)  # the same fifty every time
    existing = set(select_names())
    added = 0
    for i in range(count):
        name = f"{_PREFIXES[i % 10]} {_SUFFIXES[i // 10 % 5]}"
        kinds = rng.sample(("customer", "vendor", "partner", "prospect"), rng.randint(1, 2))
        city, postal, country = rng.choice(_PLACES)
        people = [
            (rng.choice(_FIRST), rng.choice(_LAST), rng.choice(_TITLES))
            for _ in range(rng.randint(1, 3))
        ]
        revenue = rng.randrange(100_000, 50_000_000, 1000)
        if name in existing:
            continue
        slug = name.lower().replace(" ", "")
        account = services.create_account(
            {
                "name": name,
                "kinds": kinds,
                "industry": rng.choice(_INDUSTRIES),
                "annual_revenue": str(revenue),
                "website": f"https://{slug}.example",
                "email": f"hello@{slug}.example",
                "phone": f"+49 30 {5550000 + i}",
                "tags": [DEMO_TAG],
                "tax_id": f"DE{100000000 + i}",
            }
        )
        services.add_address(
            account.id,
            {
                "kind": "billing",
                "street": f"{i + 1} Market St",
                "city": city,
                "postal_code": postal,
                "country": country,
            },
        )
        if i % 3 == 0:
            services.add_address(
                account.id,
                {
                    "kind": "shipping",
                    "street": f"Dock {i + 1}",
                    "city": city,
                    "postal_code": postal,
                    "country": country,
                },
            )
        for first, last, title in people:
            services.add_person(
                {
                    "account_id": str(account.id),
                    "first_name": first,
                    "last_name": last,
                    "job_title": title,
                    "email": f"{first}.{last}@{slug}.example".lower(),
                }
            )
        added += 1
    return added


def select_names() -> list[str]:
    """Names of the tenant's live accounts."""
    from core.db import session

    return list(session.scalars(select(Account.name).where(Account.deleted_at.is_(None))))
