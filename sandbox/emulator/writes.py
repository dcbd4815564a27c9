"""Batch semantics of the objects API: read, create, update and upsert (reference sections 1, 6).

Owns: the rules that decide between 200/201, 207 and a whole-batch failure. A batch whose every
input carries an ``objectWriteTraceId`` fails input by input (207, each error naming its trace
id); without them one bad input fails the whole batch with its 400 or 409 and nothing is
written. Missing ids in read and update are a 207 ``OBJECT_NOT_FOUND`` listing ``context.ids``.
Upsert by ``email`` is all-or-nothing even with trace ids (HubSpot: "partial upserts are not
supported when using email"). Must not: know HTTP; it maps a parsed body to (status, body).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sandbox.emulator import defaults
from sandbox.emulator.checks import as_property_values
from sandbox.emulator.errors import ItemError, bad_request, not_found
from sandbox.emulator.store import Claims, Plan, Record, Store

MAX_INPUTS = 100
Result = tuple[int, dict[str, Any]]


def _inputs(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise bad_request('Invalid input JSON: expected {"inputs": [...]}')
    inputs: list[dict[str, Any]] = body["inputs"]
    if len(inputs) > MAX_INPUTS:
        raise bad_request(f"Batch input of {len(inputs)} exceeds the limit of {MAX_INPUTS}")
    if not all(isinstance(i, dict) for i in inputs):
        raise bad_request("Invalid input JSON: every input must be an object")
    for inp in inputs:
        as_property_values(inp.get("properties"))  # a JSON-type error fails the whole request
    return inputs


def _traces(inputs: list[dict[str, Any]]) -> list[str] | None:
    traces = [inp.get("objectWriteTraceId") for inp in inputs]
    if inputs and all(isinstance(t, str | int) for t in traces):
        return [str(t) for t in traces]
    return None


def _no_duplicate_ids(ids: list[str]) -> None:
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        raise bad_request(f"Duplicate IDs found in batch input: {dupes}")


def _answer(
    status: int, results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str, now: str
) -> Result:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": now,
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return 207, body
    return status, body


def _not_found(otype: str, ids: list[str]) -> dict[str, Any]:
    kind = defaults.SINGULAR[otype].upper()
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {kind} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        "context": {"ids": ids},
    }


def _id_property(store: Store, otype: str, name: Any, *, write: bool) -> str | None:
    if name in (None, ""):
        return None
    if not isinstance(name, str):
        raise bad_request("idProperty must be a string")
    unique = store.catalog.unique_names(otype)
    forbidden = write and name in ("email", "hs_object_id")
    if forbidden or (name not in unique and name != "hs_object_id"):
        verb = "update/upsert" if write else "read"
        raise bad_request(
            f"Unable to perform {verb} by non-unique {defaults.TYPE_IDS[otype]} property {name}"
        )
    return name


def _run(
    store: Store,
    plans: list[Callable[[Claims | None], Plan]],
    traces: list[str] | None,
) -> list[Record | dict[str, Any]]:
    """Plan and commit each write. With trace ids, failures are per input (a dict error entry
    in the returned list); without, the first failure fails the batch and nothing commits."""
    if traces is not None:
        out: list[Record | dict[str, Any]] = []
        for make, trace in zip(plans, traces, strict=True):
            try:
                out.append(store.commit(make(None)))
            except ItemError as exc:
                out.append(exc.as_batch_error(trace))
        return out
    claims = Claims()
    checked: list[Plan] = []
    for make in plans:
        try:
            checked.append(make(claims))
        except ItemError as exc:
            raise exc.as_api_error() from None
    return [store.commit(plan) for plan in checked]


def batch_read(store: Store, otype: str, body: Any, now: str) -> Result:
    inputs = _inputs(body)
    id_prop = _id_property(store, otype, body.get("idProperty"), write=False)
    asked = body.get("properties") or []
    if not isinstance(asked, list):
        raise bad_request("properties must be a list of property names")
    defs = store.catalog.properties[otype]
    wanted = [p for p in asked if p in defs] if asked else list(defaults.DEFAULT_READ[otype])
    results: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for inp in inputs:
        value = str(inp.get("id", ""))
        record = store.find(otype, id_prop or "hs_object_id", value)
        if record is None:
            missing.append(value)
        elif record.id not in results:
            results[record.id] = store.view(record, wanted)
    errors = [_not_found(otype, missing)] if missing else []
    return _answer(200, list(results.values()), errors, now, now)


def batch_create(store: Store, otype: str, body: Any, now: str) -> Result:
    inputs = _inputs(body)

    def maker(inp: dict[str, Any]) -> Callable[[Claims | None], Plan]:
        return lambda claims: store.plan_create(
            otype, inp.get("properties"), inp.get("associations"), claims
        )

    done = _run(store, [maker(i) for i in inputs], _traces(inputs))
    results = [store.view(r) for r in done if isinstance(r, Record)]
    errors = [e for e in done if isinstance(e, dict)]
    return _answer(201, results, errors, now, now)


def batch_update(store: Store, otype: str, body: Any, now: str) -> Result:
    inputs = _inputs(body)
    default_prop = body.get("idProperty")
    found: list[tuple[Record, dict[str, Any]]] = []
    missing: list[str] = []
    keys: list[str] = []
    for inp in inputs:
        id_prop = _id_property(store, otype, inp.get("idProperty", default_prop), write=True)
        value = str(inp.get("id", ""))
        keys.append(f"{id_prop}:{value}")
        record = store.find(otype, id_prop or "hs_object_id", value)
        if record is None:
            missing.append(value)
        else:
            found.append((record, inp))
    _no_duplicate_ids(keys)

    def maker(record: Record, inp: dict[str, Any]) -> Callable[[Claims | None], Plan]:
        return lambda claims: store.plan_update(record, inp.get("properties"), claims)

    traces = _traces(inputs)
    found_traces = [str(inp["objectWriteTraceId"]) for _, inp in found] if traces else None
    done = _run(store, [maker(r, i) for r, i in found], found_traces)
    results = [store.view(r) for r in done if isinstance(r, Record)]
    errors = [e for e in done if isinstance(e, dict)]
    if missing:
        errors.append(_not_found(otype, missing))
    return _answer(200, results, errors, now, now)


def batch_upsert(store: Store, otype: str, body: Any, now: str) -> Result:
    inputs = _inputs(body)
    default_prop = body.get("idProperty")
    makers: list[Callable[[Claims | None], Plan]] = []
    keys: list[str] = []
    by_email = False
    for inp in inputs:
        name = inp.get("idProperty", default_prop)
        if otype == "contacts" and name == "email":
            id_prop = "email"
            by_email = True
        else:
            id_prop = _id_property(store, otype, name, write=True) or ""
        if not id_prop:
            raise bad_request("Upsert inputs need an idProperty")
        value = str(inp.get("id", ""))
        keys.append(f"{id_prop}:{value}")
        record = store.find(otype, id_prop, value)
        makers.append(_upsert_maker(store, otype, record, id_prop=id_prop, value=value, inp=inp))
    _no_duplicate_ids(keys)
    traces = None if by_email else _traces(inputs)
    before = {r.id for r in store.records[otype].values()}
    done = _run(store, makers, traces)
    results = [{**store.view(r), "new": r.id not in before} for r in done if isinstance(r, Record)]
    errors = [e for e in done if isinstance(e, dict)]
    return _answer(200, results, errors, now, now)


def _upsert_maker(
    store: Store,
    otype: str,
    record: Record | None,
    *,
    id_prop: str,
    value: str,
    inp: dict[str, Any],
) -> Callable[[Claims | None], Plan]:
    props = as_property_values(inp.get("properties"))
    if record is not None:
        return lambda claims: store.plan_update(record, props, claims)
    return lambda claims: store.plan_create(otype, {id_prop: value, **props}, None, claims)


def single_create(store: Store, otype: str, body: Any) -> Result:
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    try:
        plan = store.plan_create(otype, body.get("properties"), body.get("associations"))
    except ItemError as exc:
        raise exc.as_api_error() from None
    return 201, store.view(store.commit(plan))


def single_update(store: Store, record: Record, body: Any) -> Result:
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    try:
        plan = store.plan_update(record, body.get("properties"))
    except ItemError as exc:
        raise exc.as_api_error() from None
    return 200, store.view(store.commit(plan))


def lookup(store: Store, otype: str, key: str, id_property: str | None) -> Record:
    """A record for a single-object path (by id or ``?idProperty=``); 404 when absent."""
    if (
        id_property
        and id_property != "hs_object_id"
        and id_property not in store.catalog.unique_names(otype)
    ):
        raise bad_request(f"{id_property} is not a unique property of {otype}")
    record = store.find(otype, id_property or "hs_object_id", key)
    if record is None:
        raise not_found()
    return record
