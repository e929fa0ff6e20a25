"""kubesvc benchmark suite (``make bench`` -> ``python -m benchmarks.run``).

Each benchmark is one module with ``run(quick: bool) -> dict``; :mod:`benchmarks.run`
registers them, stores the results in ``docs/benchmarks/results.json`` and renders
``docs/benchmarks.md`` with a plot per benchmark (:mod:`benchmarks.report`). Shared helpers
(machine info, processes, percentiles, bounded loops) live in :mod:`benchmarks.common`.
Traffic goes only to 127.0.0.0/8 or network namespaces the suite creates itself.
"""
