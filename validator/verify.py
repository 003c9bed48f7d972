"""Verification of a committed model; it lives in `node.verify`, shared with the miner's publish check."""

from node.identity import hash_scheme
from node.verify import VerifiedModel, fetch_and_verify, hub_refusal

__all__ = ["VerifiedModel", "fetch_and_verify", "hash_scheme", "hub_refusal"]
