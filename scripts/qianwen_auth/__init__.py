"""Shared code of the qianwen-ops-auth scripts: one module per concern, standard library only."""

VERSION = "0.1.0"
