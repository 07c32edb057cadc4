"""Document numbers: per tenant and document type, gap-free, consecutive under concurrency."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from core.errors import TenantContextError, ValidationError
from core.sequences import current_number, next_number, parse_pattern
from core.tenancy import tenant_context

JAN = dt.date(2026, 1, 15)


@pytest.fixture()
def in_tenant(session, tenant):
    """Run the test inside a fresh tenant's context."""
    with tenant_context(tenant.id):
        yield tenant


def test_numbers_follow_the_pattern_and_count_up(session, in_tenant):
    drawn = [next_number("sales.order", "SO-{year}-{seq:05d}", when=JAN) for _ in range(3)]
    assert drawn == ["SO-2026-00001", "SO-2026-00002", "SO-2026-00003"]
    assert current_number("sales.order", period="2026") == 3


def test_each_document_type_has_its_own_counter(session, in_tenant):
    assert next_number("sales.order", "SO{seq:04d}") == "SO0001"
    assert next_number("purchase.order", "PO{seq:04d}") == "PO0001"
    assert next_number("sales.order", "SO{seq:04d}") == "SO0002"
    assert next_number("invoice") == "00001"  # the default pattern


def test_a_pattern_with_a_year_starts_again_each_year(session, in_tenant):
    pattern = "INV/{year}/{seq}"
    assert next_number("invoice", pattern, when=dt.date(2025, 12, 31)) == "INV/2025/1"
    assert next_number("invoice", pattern, when=dt.date(2025, 12, 31)) == "INV/2025/2"
    assert next_number("invoice", pattern, when=dt.date(2026, 1, 1)) == "INV/2026/1"
    # A late document of last year continues last year's numbers.
    assert next_number("invoice", pattern, when=dt.date(2025, 6, 1)) == "INV/2025/3"


def test_month_and_day_placeholders_reset_with_their_period(session, in_tenant):
    monthly = "{yy}{month}-{seq:03d}"
    assert next_number("ticket", monthly, when=dt.date(2026, 3, 31)) == "2603-001"
    assert next_number("ticket", monthly, when=dt.date(2026, 3, 1)) == "2603-002"
    assert next_number("ticket", monthly, when=dt.date(2026, 4, 1)) == "2604-001"
    daily = "{year}{month}{day}-{seq}"
    assert next_number("shipment", daily, when=dt.date(2026, 4, 1)) == "20260401-1"
    assert next_number("shipment", daily, when=dt.date(2026, 4, 2)) == "20260402-1"


def test_a_pattern_without_a_date_never_resets(session, in_tenant):
    assert next_number("contact", "C{seq:06d}", when=dt.date(2025, 1, 1)) == "C000001"
    assert next_number("contact", "C{seq:06d}", when=dt.date(2030, 1, 1)) == "C000002"


def test_two_tenants_number_independently(session, make_tenant):
    a, b = make_tenant(), make_tenant()
    with tenant_context(a.id):
        assert next_number("sales.order", "SO-{seq}") == "SO-1"
        assert next_number("sales.order", "SO-{seq}") == "SO-2"
    with tenant_context(b.id):
        assert next_number("sales.order", "SO-{seq}") == "SO-1"
    with tenant_context(a.id):
        assert next_number("sales.order", "SO-{seq}") == "SO-3"


def test_a_rolled_back_draw_leaves_no_gap(session, in_tenant):
    assert next_number("sales.order", "SO-{seq}") == "SO-1"
    nested = session.begin_nested()
    assert next_number("sales.order", "SO-{seq}") == "SO-2"
    nested.rollback()  # e.g. the order failed validation after it was numbered
    assert next_number("sales.order", "SO-{seq}") == "SO-2"


def test_a_rolled_back_transaction_gives_its_number_back(committed):
    t = committed.tenant()
    with tenant_context(t.id):
        s = committed.session()
        assert next_number("sales.order", "SO-{seq}", session=s) == "SO-1"
        s.commit()
        assert next_number("sales.order", "SO-{seq}", session=s) == "SO-2"
        s.rollback()
        assert next_number("sales.order", "SO-{seq}", session=s) == "SO-2"
        s.commit()
        s.close()


def test_concurrent_draws_are_distinct_and_consecutive(committed):
    """8 threads, each with its own connection, draw 50 numbers each, one commit per draw."""
    t = committed.tenant()
    threads, per_thread = 8, 50
    results: list[list[str]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(i: int) -> None:
        try:
            with tenant_context(t.id):
                s = committed.session()
                try:
                    start.wait()
                    for _ in range(per_thread):
                        results[i].append(next_number("sales.order", "{seq}", session=s))
                        s.commit()
                finally:
                    s.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert not errors, errors
    numbers = sorted(int(n) for r in results for n in r)
    assert numbers == list(range(1, threads * per_thread + 1))
    for r in results:  # each thread saw its own numbers rise
        assert [int(n) for n in r] == sorted(int(n) for n in r)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("SO-{year}", "needs {seq} exactly once"),
        ("{seq}-{seq}", "needs {seq} exactly once"),
        ("SO-{sequence}", "unknown placeholder {sequence}"),
        ("SO-{seq:05s}", "is not a number format"),
        ("SO-{seq!r}", "conversion"),
        ("SO-{seq", "invalid sequence pattern"),
        ("{month}-{seq}", "{month} needs {year} or {yy}"),
        ("{year}{day}-{seq}", "{day} needs {month}"),
        ("{year:04d}-{seq}", "{year} takes no format"),
        ("", "it is empty"),
    ],
)
def test_a_bad_pattern_is_a_clear_validation_error(session, in_tenant, pattern, why):
    with pytest.raises(ValidationError) as err:
        next_number("sales.order", pattern)
    assert why in err.value.message
    assert err.value.details == {"pattern": [err.value.message]}
    assert current_number("sales.order") == 0


def test_a_bad_document_type_is_a_clear_validation_error(session, in_tenant):
    with pytest.raises(ValidationError, match="invalid document type") as err:
        next_number("Sales Order")
    assert err.value.field == "doc_type"


def test_numbering_needs_a_tenant(session):
    with pytest.raises(TenantContextError):
        next_number("sales.order")


def test_parse_pattern_tells_the_reset_period():
    assert parse_pattern("{seq}") == ""
    assert parse_pattern("SO-{year}-{seq:05d}") == "year"
    assert parse_pattern("{yy}{month}{seq}") == "month"
    assert parse_pattern("{year}-{month}-{day}/{seq}") == "day"
