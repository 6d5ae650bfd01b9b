"""The edges of the engine: clients for Salesforce and HubSpot, built by injection."""
