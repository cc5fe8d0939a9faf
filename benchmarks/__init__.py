"""Benchmarks of jailfs against raw ``os`` calls, fsspec ``LocalFileSystem`` and ``DirFileSystem``.

Run ``python -m benchmarks --help``. Every tree is built in a temporary directory and removed at
the end; only the files named on the command line (``--json``, ``--plot``, ``--results``) are
written.
"""
