"""The Salesforce REST API emulator (see emulator.py for the entry point)."""
