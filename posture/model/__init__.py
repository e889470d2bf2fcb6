"""The foundation every stage imports: engagement, records, snapshot, thresholds,
vocabulary, errors and value-free helpers.

Nothing here imports ``collectors``, ``checks`` or the top of ``posture`` (CLI,
use cases, reporting, site, demo); ``tests/test_architecture.py`` enforces it.
"""
