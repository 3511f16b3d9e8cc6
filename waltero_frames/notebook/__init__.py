"""Notebook layer: plots, widgets, the explorer's compute functions and ``connect()``.

The top of the one-way chain: may import every layer below (``api``, ``analysis``,
``transport``), and nothing below imports it.
"""
