"""What a fresh HubSpot portal holds: standard contact and deal properties, groups, the default
deal pipeline, and the object type names and ids.

Owns: data only (HubSpot-defined definitions as a new portal shows them, trimmed to what the
daemon and its tests touch). The daemon's own ``classter_*`` properties are deliberately absent:
``classter-hubspot check --apply`` creates them. Must not: hold state or logic.
"""

from __future__ import annotations

from typing import Any

OBJECT_TYPES: dict[str, str] = {
    "contacts": "contacts",
    "0-1": "contacts",
    "deals": "deals",
    "0-3": "deals",
}
TYPE_IDS = {"contacts": "0-1", "deals": "0-3"}
SINGULAR = {"contacts": "contact", "deals": "deal"}
# HUBSPOT_DEFINED association type ids this emulator knows: (from, typeId) -> to
ASSOCIATION_TYPES: dict[tuple[str, int], str] = {("deals", 3): "contacts", ("contacts", 4): "deals"}
DEFAULT_TYPE_ID = {("deals", "contacts"): 3, ("contacts", "deals"): 4}

# Objects' read-only bookkeeping: what every result carries, and what a write may not set.
LAST_MODIFIED = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
DEFAULT_READ = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}

GROUPS: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        {"name": "contactinformation", "label": "Contact information", "displayOrder": -1}
    ],
    "deals": [{"name": "dealinformation", "label": "Deal information", "displayOrder": -1}],
}


def _p(
    name: str,
    label: str,
    kind: str = "string",
    field: str = "text",
    *,
    read_only: bool = False,
    options: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field,
        "readOnlyValue": read_only,
        "options": [
            {"label": lab, "value": val, "displayOrder": n, "hidden": False}
            for n, (val, lab) in enumerate(options or [])
        ],
    }


LIFECYCLE = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]

# ``date_of_birth`` and ``gender`` are single-line text in real portals, not date/enumeration.
PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "contacts": [
        _p("email", "Email"),
        _p("firstname", "First Name"),
        _p("lastname", "Last Name"),
        _p("phone", "Phone Number", field="phonenumber"),
        _p("mobilephone", "Mobile Phone Number", field="phonenumber"),
        _p("date_of_birth", "Date of birth"),
        _p("gender", "Gender"),
        _p("company", "Company Name"),
        _p("jobtitle", "Job Title"),
        _p("city", "City"),
        _p("country", "Country/Region"),
        _p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=LIFECYCLE),
        _p("hs_object_id", "Record ID", "number", "number", read_only=True),
        _p("createdate", "Create Date", "datetime", "date"),
        _p("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    ],
    "deals": [
        _p("dealname", "Deal Name"),
        _p("pipeline", "Pipeline", "enumeration", "select"),  # options: the pipelines
        _p("dealstage", "Deal Stage", "enumeration", "radio"),  # options: every stage
        _p("amount", "Amount", "number", "number"),
        _p("closedate", "Close Date", "datetime", "date"),
        _p(
            "dealtype",
            "Deal Type",
            "enumeration",
            "radio",
            options=[("newbusiness", "New Business"), ("existingbusiness", "Existing Business")],
        ),
        _p("description", "Deal Description", field="textarea"),
        _p("hs_object_id", "Record ID", "number", "number", read_only=True),
        _p("createdate", "Create Date", "datetime", "date"),
        _p("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    ],
}

# HubSpot's default "Sales Pipeline": (stage id, label, probability, closed)
DEFAULT_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
]


def default_pipeline(created_at: str) -> dict[str, Any]:
    return {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "archived": False,
        "createdAt": created_at,
        "updatedAt": created_at,
        "stages": [
            {
                "id": sid,
                "label": label,
                "displayOrder": n,
                "archived": False,
                "metadata": {"isClosed": "true" if closed else "false", "probability": prob},
                "writePermissions": "CRUD_ALL",
                "createdAt": created_at,
                "updatedAt": created_at,
            }
            for n, (sid, label, prob, closed) in enumerate(DEFAULT_STAGES)
        ],
    }
