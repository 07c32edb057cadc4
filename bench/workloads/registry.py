"""The registry with 1,000 tenants: enabling every addon, and per-request tenancy + dispatch.

Reuses bench/registry_bench.py's no-op hook (every addon answers it), so the figures
measure dispatch only.
"""

from __future__ import annotations

import uuid

from bench.harness import Context, Result, timed, workload
from bench.raw import Raw, now
from bench.registry_bench import BenchImpl, BenchSpecs


@workload("registry", tenants=(1000, 50), requests=(1000, 100), calls=(20000, 2000))
def registry(ctx: Context) -> list[Result]:
    """Enable every addon for T tenants (one transaction, as `addons enable --all-tenants`;
    baseline: read each tenant's set, INSERT the missing rows); then R requests cycling
    through the tenants, each an app context + tenant + enabled-set read + tenant-aware hook
    call (baseline: the same SELECT by hand + a plain call per addon); and one hook call,
    tenant-aware with the set cached vs plain pluggy."""
    from sqlalchemy import insert

    from core.db import session
    from core.models import Tenant
    from core.registry import Registry, current_registry
    from core.tenancy import system_context, tenant_context

    app = ctx.app
    ntenants, nreq, ncalls = ctx.size("tenants"), ctx.size("requests"), ctx.size("calls")
    reg: Registry = app.extensions["pergola.registry"]
    names = list(reg.addons)
    ids = [uuid.uuid4() for _ in range(ntenants)]
    base_ids = [uuid.uuid4() for _ in range(ntenants)]
    with app.app_context(), system_context():
        session.execute(
            insert(Tenant),
            [
                {
                    "id": tid,
                    "slug": f"bench-reg-{k}-{i:05d}",
                    "name": f"Registry {i}",
                    "status": "active",
                    "settings": {},
                }
                for k, group in enumerate((ids, base_ids))
                for i, tid in enumerate(group)
            ],
        )
        session.commit()

    def enable_all() -> None:
        with app.app_context():
            for tid in ids:
                reg.enable(tid, names)
            session.commit()

    def base_enable() -> None:
        raw = Raw(ctx.url)
        raw.begin()
        for tid in base_ids:
            raw.tenant_id = tid
            if raw.kind == "postgresql":  # row security: say the tenant
                raw.execute("SELECT set_config('pergola.tenant_id', ?, true)", (str(tid),))
            have = {
                r[0]
                for r in raw.execute(
                    "SELECT addon FROM core_tenant_addon WHERE tenant_id = ?", (tid,)
                ).fetchall()
            }
            at = now()
            raw.many(
                "INSERT INTO core_tenant_addon (tenant_id, addon, enabled_at) VALUES (?, ?, ?)",
                [(tid, n, at) for n in names if n not in have],
            )
        raw.commit()
        raw.close()

    t_enable, t_base_enable = timed(enable_all), timed(base_enable)
    out = [
        ctx.result(
            f"registry: enable all {len(names)} addons for {ntenants} tenants",
            "tenants/s",
            ntenants / t_enable,
            ntenants / t_base_enable,
            seconds_total=round(t_enable, 2),
            addons=len(names),
            note="Pergola also runs each addon's addon_enabled hooks",
        )
    ]

    bench = Registry([a.manifest for a in reg.addons.values()])
    bench.pm.add_hookspecs(BenchSpecs)
    for name in names:
        bench.register_plugin(BenchImpl(name), owner=name)
    impls = [BenchImpl(n) for n in names]
    app.extensions["pergola.registry"] = bench  # current_registry() answers with it
    try:
        visits = [ids[i % ntenants] for i in range(nreq)]

        def requests() -> None:
            for tid in visits:
                with app.app_context(), tenant_context(tid):
                    current_registry().hook.bench_ping(value=1)

        raw = Raw(ctx.url)

        def base_requests() -> None:
            for tid in visits:
                raw.tenant_id = tid
                raw.begin()
                enabled = {
                    r[0]
                    for r in raw.execute(
                        "SELECT addon FROM core_tenant_addon WHERE tenant_id = ?", (tid,)
                    ).fetchall()
                }
                raw.commit()
                [impl.bench_ping(1) for impl, n in zip(impls, names, strict=True) if n in enabled]

        requests()  # warm the per-set caller cache
        t_req, t_base_req = timed(requests), timed(base_requests)
        raw.close()
        out.append(
            ctx.result(
                f"registry: per request, tenancy + dispatch, {ntenants} tenants",
                "µs/request",
                t_req / nreq * 1e6,
                t_base_req / nreq * 1e6,
                higher_is_better=False,
                note="app context + tenant + enabled-set read + hook call",
            )
        )
        plain = bench.pm.hook.bench_ping
        with app.app_context(), tenant_context(ids[0]):
            bench.hook.bench_ping(value=1)
            t_aware = timed(lambda: [bench.hook.bench_ping(value=1) for _ in range(ncalls)])
            t_plain = timed(lambda: [plain(value=1) for _ in range(ncalls)])
        out.append(
            ctx.result(
                f"registry: one hook call ({len(names)} addons answer)",
                "µs/call",
                t_aware / ncalls * 1e6,
                t_plain / ncalls * 1e6,
                higher_is_better=False,
                note="tenant-aware, enabled set cached; baseline: plain pluggy",
            )
        )
    finally:
        app.extensions["pergola.registry"] = reg
    return out
