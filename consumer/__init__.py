"""classter-hubspot: keeps HubSpot CRM contacts and deals in step with Classter change events."""

__version__ = "0.1.0"
