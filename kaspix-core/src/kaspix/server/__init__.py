"""The kaspix web job server (``kaspix serve``): start any plugin's pipeline from a browser.

Needs ``pip install "kaspix-core[serve]"``. Jobs are kept in SQLite and run as separate
``kaspix run`` processes, so they survive a server restart.
"""
