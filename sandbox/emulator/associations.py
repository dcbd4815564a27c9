"""The v4 associations API (reference section 3): batch create, batch associate-default, batch
read, and one record's associations.

Owns: request validation (object type pair, HUBSPOT_DEFINED type ids 3 deal->contact and 4
contact->deal), partial failure for ids that do not exist (207, one error per side naming
``context.ids``), and HubSpot's result shapes. Re-creating an existing association succeeds and
changes nothing. Must not: know HTTP or rate limits (its batch endpoints' exemption from the
10-second window is declared in ``routes``).
"""

from __future__ import annotations

from typing import Any

from sandbox.emulator import defaults
from sandbox.emulator.catalog import object_type
from sandbox.emulator.errors import bad_request
from sandbox.emulator.store import Store

MAX_CREATE = 2_000  # third-party figure; HubSpot does not document it
MAX_READ = 1_000
Result = tuple[int, dict[str, Any]]


def _pair(from_segment: str, to_segment: str) -> tuple[str, str]:
    pair = object_type(from_segment), object_type(to_segment)
    if pair not in defaults.DEFAULT_TYPE_ID:
        raise bad_request(f"No associations exist between {pair[0]} and {pair[1]}")
    return pair


def _inputs(body: Any, limit: int) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise bad_request('Invalid input JSON: expected {"inputs": [...]}')
    inputs: list[dict[str, Any]] = body["inputs"]
    if len(inputs) > limit:
        raise bad_request(f"Batch input of {len(inputs)} exceeds the limit of {limit}")
    if not all(isinstance(i, dict) for i in inputs):
        raise bad_request("Invalid input JSON: every input must be an object")
    return inputs


def _ref(value: Any) -> str:
    return str(value.get("id", "")) if isinstance(value, dict) else ""


def _answer(
    status: int, results: list[dict[str, Any]], errors: list[dict[str, Any]], now: str
) -> Result:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": now,
        "completedAt": now,
    }
    if errors:
        body.update(numErrors=len(errors), errors=errors)
        return 207, body
    return status, body


def _missing(otype: str, ids: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "subCategory": "crm.associations.INVALID_OBJECT_IDS",
        "message": f"No {otype} with ids {', '.join(ids)} exist",
        "context": {"ids": ids},
    }


def _type_ids(from_type: str, to_type: str, specs: Any) -> list[int]:
    if not isinstance(specs, list) or not specs:
        raise bad_request("Each input needs a non-empty types list")
    out = []
    for spec in specs:
        type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
        category = spec.get("associationCategory") if isinstance(spec, dict) else None
        if (
            not isinstance(type_id, int)
            or category != "HUBSPOT_DEFINED"
            or defaults.ASSOCIATION_TYPES.get((from_type, type_id)) != to_type
        ):
            raise bad_request(
                f"{category} association type {type_id} is not valid from {from_type} to {to_type}"
            )
        out.append(type_id)
    return out


def _link_all(
    store: Store, from_type: str, to_type: str, pairs: list[tuple[str, str, list[int]]]
) -> tuple[list[tuple[str, str, list[int]]], list[dict[str, Any]]]:
    """Link the pairs whose both ends exist; errors for the ids that do not."""
    done, missing_from, missing_to = [], [], []
    for from_id, to_id, type_ids in pairs:
        bad = False
        if store.get(from_type, from_id) is None:
            missing_from.append(from_id)
            bad = True
        if store.get(to_type, to_id) is None:
            missing_to.append(to_id)
            bad = True
        if bad:
            continue
        for type_id in type_ids:
            store.associate(from_type, from_id, to_type, to_id, type_id)
        store.journal.append(
            {"op": "associate", "type": from_type, "id": from_id, "to": [to_type, to_id, type_ids]}
        )
        done.append((from_id, to_id, type_ids))
    errors = [
        _missing(t, sorted(set(ids), key=ids.index))
        for t, ids in ((from_type, missing_from), (to_type, missing_to))
        if ids
    ]
    return done, errors


def batch_create(store: Store, from_segment: str, to_segment: str, body: Any, now: str) -> Result:
    from_type, to_type = _pair(from_segment, to_segment)
    pairs = [
        (_ref(i.get("from")), _ref(i.get("to")), _type_ids(from_type, to_type, i.get("types")))
        for i in _inputs(body, MAX_CREATE)
    ]
    done, errors = _link_all(store, from_type, to_type, pairs)
    results = [
        {
            "fromObjectTypeId": defaults.TYPE_IDS[from_type],
            "fromObjectId": int(f),
            "toObjectTypeId": defaults.TYPE_IDS[to_type],
            "toObjectId": int(t),
            "labels": [],
        }
        for f, t, _ in done
    ]
    return _answer(201, results, errors, now)


def batch_associate_default(
    store: Store, from_segment: str, to_segment: str, body: Any, now: str
) -> Result:
    from_type, to_type = _pair(from_segment, to_segment)
    type_id = defaults.DEFAULT_TYPE_ID[(from_type, to_type)]
    pairs = [(_ref(i.get("from")), _ref(i.get("to")), [type_id]) for i in _inputs(body, MAX_CREATE)]
    done, errors = _link_all(store, from_type, to_type, pairs)
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
    results = [{"from": {"id": f}, "to": {"id": t}, "associationSpec": spec} for f, t, _ in done]
    return _answer(200, results, errors, now)


def _targets(store: Store, from_type: str, record_id: str, to_type: str) -> list[dict[str, Any]]:
    links = store.associations_of(from_type, record_id, to_type)
    return [
        {
            "toObjectId": int(tid),
            "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": t, "label": None} for t in sorted(types)
            ],
        }
        for tid, types in sorted(links.items(), key=lambda kv: int(kv[0]))
    ]


def batch_read(store: Store, from_segment: str, to_segment: str, body: Any, now: str) -> Result:
    from_type, to_type = _pair(from_segment, to_segment)
    results, errors = [], []
    for inp in _inputs(body, MAX_READ):
        record_id = str(inp.get("id", ""))
        targets = _targets(store, from_type, record_id, to_type)
        if targets:
            results.append({"from": {"id": record_id}, "to": targets})
        else:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {to_type} is associated with {from_type} {record_id}.",
                    "context": {"ids": [record_id]},
                }
            )
    return _answer(200, results, errors, now)


def list_for(store: Store, from_segment: str, record_id: str, to_segment: str) -> Result:
    from_type, to_type = _pair(from_segment, to_segment)
    return 200, {"results": _targets(store, from_type, record_id, to_type)}


def put_default(
    store: Store, from_segment: str, from_id: str, to_segment: str, to_id: str, *, now: str
) -> Result:
    body = {"inputs": [{"from": {"id": from_id}, "to": {"id": to_id}}]}
    status, answer = batch_associate_default(store, from_segment, to_segment, body, now)
    if status == 207:
        raise bad_request(answer["errors"][0]["message"])
    return status, answer
