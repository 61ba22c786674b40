"""Plumbing that turns a config into a run: config, build, runs, scoring, tracking.

Not the library: a user's own loop needs none of it. It sits above ``train/`` and below ``cli``.
"""
