"""The HubSpot half of the sandbox: CRM v3 objects and search, v4 associations, properties,
pipelines, owners and lists, served over HTTP the way HubSpot serves them (see emulator.py)."""

from __future__ import annotations

from sandbox.hubspot.emulator import HubSpotEmulator

__all__ = ["HubSpotEmulator"]
