"""The kaspix web job server (``kaspix serve``): queue any plugin's pipeline from a browser or the API.

Needs ``pip install "kaspix-core[serve]"``. Jobs are kept in SQLite and run as separate
``kaspix run`` processes, at most ``--max-jobs`` at once, so they survive a server restart.

Modules: ``app`` (the FastAPI app and serving it), ``api`` and ``pages`` (the routes), ``guard``
(token and upload cap), ``jobs`` (queue, processes, cancel and resume), ``store`` (SQLite),
``views`` (what answers show), ``events`` (live updates), ``models`` and ``errors`` (the shapes).
"""
