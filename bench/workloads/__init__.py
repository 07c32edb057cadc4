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
