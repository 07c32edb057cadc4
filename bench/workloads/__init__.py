"""The workloads; importing this package registers them all with the harness."""

from bench.workloads import (  # noqa: F401  - registration by import
    api_reads,
    contacts,
    products,
    purchase,
    registry,
    rss,
    stock,
    web,
)

# The order the runner uses (the issue's): writes, then reads, then the kernel.
ORDER = [
    "products",
    "contacts",
    "receipts",
    "hot-stock",
    "purchase",
    "api-reads",
    "web",
    "registry",
    "rss",
]
