"""Benchmarks, one module per command (``python -m devtools.bench.<name> --help``; ``make bench`` runs all):

* ``adjust``: the ``adjust`` engine at 24 MP, then the platform's end-to-end job latency (``jobs``);
* ``jobs``: API submit → WebSocket completion of small ``adjust`` jobs, embedded and distributed;
* ``clicks``: per-click latency of interactive sessions, and full-resolution output time;
* ``votes``: vote ingestion on PostgreSQL behind a production-style uvicorn;
* ``statistics``: Bradley–Terry / Thurstone fits against choix, and the participant bootstrap.
"""

from inference.memory import keep_freed_memory

keep_freed_memory()  # the allocator the platform's processes use (webapp/__init__.py)

