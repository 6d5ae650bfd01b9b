"""Local emulators of the Salesforce REST API and the HubSpot CRM API.

The sandbox stands in for the two SaaS products LeadBridge syncs, so the product runs with no
account anywhere and every test drives the real client libraries over real HTTP. Its value is
its fidelity: when it and the real API differ, the sandbox is wrong.
"""
