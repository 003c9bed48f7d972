"""Errors of the asset builder: one base class so the CLI can print a one-line reason for any of them."""

from __future__ import annotations


class AssetError(Exception):
    """Something about the offline assets is wrong; the message says what and how to fix it."""


class DownloadError(AssetError):
    """A source archive could not be fetched or did not match its checksum."""


class ChecksumError(AssetError):
    """A built file no longer matches the sha256 recorded in the manifest."""


class BuildCheckError(AssetError):
    """A freshly built asset failed its own sanity check (round trip, logits, loss)."""
