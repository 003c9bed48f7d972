"""Lineage: how a grown child relates to its parent, and the check that certifies it.

`placement` and `roles` are the convention the miner's grower writes and validators verify.
"""
