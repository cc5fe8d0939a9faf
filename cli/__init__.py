"""The ``jailfs`` command line (installed as the ``jailfs_cli`` package)."""
