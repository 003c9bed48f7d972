"""The embedded chain: a SQLite file shared by a devnet's processes (see `LocalChain`)."""

from node.chain.local.admin import create_network
from node.chain.local.chain import LocalChain
from node.chain.local.config import NetworkConfig

__all__ = ["LocalChain", "NetworkConfig", "create_network"]
