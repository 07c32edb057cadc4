"""contacts: the phone's digits in PostgreSQL's search index

Revision ID: 463819e8545a
Revises: 3e3896c2aa12
Create Date: 2026-12-06 04:35:00.000000

A search with four or more digits used to OR the GIN match with a digits-only LIKE scan of
every phone, which no index serves: the whole table was read. The index now holds, besides
the words of name, email and phone (weight A), every suffix of at least four of the phone's
digits (weight D), from the IMMUTABLE function `contacts_phone_digits`; a run of digits is
then a prefix query on those suffixes, answered by the index like the words (SQLite's FTS5
table stores the same suffixes). PostgreSQL only; nothing happens on SQLite.
"""

from collections.abc import Sequence

from alembic import op


revision: str = "463819e8545a"
down_revision: str | Sequence[str] | None = "3e3896c2aa12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Space-separated suffixes of the phone's digits of at least four digits ('' for none):
# '+1 (555) 010-9999' gives '15550109999 5550109999 ... 09999 9999'.
PHONE_DIGITS = """
CREATE OR REPLACE FUNCTION contacts_phone_digits(phone text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(substr(d, i), ' ' ORDER BY i), '')
    FROM (SELECT regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g') AS d) AS s
    CROSS JOIN LATERAL generate_series(1, length(d) - 3) AS i
$$
"""

# Must match addons.contacts.models.search_document() so autogenerate sees no drift.
SEARCH_INDEX = (
    "CREATE INDEX ix_contacts_account_search ON contacts_account USING gin (("
    "setweight(to_tsvector('simple'::regconfig, (((((COALESCE(name, ''::character varying))::text"
    " || ' '::text) || (COALESCE(email, ''::character varying))::text) || ' '::text)"
    " || (COALESCE(phone, ''::character varying))::text)), 'A'::\"char\")"
    " || setweight(to_tsvector('simple'::regconfig, contacts_phone_digits((phone)::text)),"
    " 'D'::\"char\")))"
)

# The first revision's index, for the downgrade.
OLD_SEARCH_INDEX = (
    "CREATE INDEX ix_contacts_account_search ON contacts_account USING gin ("
    "to_tsvector('simple'::regconfig, (((((COALESCE(name, ''::character varying))::text"
    " || ' '::text) || (COALESCE(email, ''::character varying))::text) || ' '::text)"
    " || (COALESCE(phone, ''::character varying))::text)))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(PHONE_DIGITS)
    op.execute("DROP INDEX IF EXISTS ix_contacts_account_search")
    op.execute(SEARCH_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_contacts_account_search")
    op.execute(OLD_SEARCH_INDEX)
    op.execute("DROP FUNCTION IF EXISTS contacts_phone_digits(text)")
