"""The HubSpot API surface: URL patterns, their handlers, and what each route requires.

Owns: every API path in both forms, v3/v4 (``/crm/v3/objects/...``, ``/crm/v4/associations/...``)
and date-based versions (``/crm/objects/2026-03/...``, any ``YYYY-MM``), the scopes each route
needs, which routes count toward the budgets and which are exempt from the 10-second window
(v4 association batch calls; token introspection counts toward nothing), and JSON in and out.
Must not: check tokens, budgets or faults itself (the gateway in ``app`` does, from
``RouteSpec``) or hold business rules (``writes``, ``associations``, ``catalog``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from sandbox.emulator import associations, defaults, writes
from sandbox.emulator.catalog import object_type
from sandbox.emulator.errors import bad_request, invalid_authentication, not_found
from sandbox.emulator.state import STATE, EmulatorState
from sandbox.emulator.store import Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ScopeRule = Callable[[web.Request], list[str]]
_V = r"{version:\d{4}-\d{2}}"
OBJECTS = ("/crm/v3/objects", f"/crm/objects/{_V}")
ASSOCIATIONS = ("/crm/v4/associations", f"/crm/associations/{_V}")
OBJECT_ASSOCIATIONS = ("/crm/v4/objects", f"/crm/objects/{_V}")
PROPERTIES = ("/crm/v3/properties", f"/crm/properties/{_V}")
PIPELINES = ("/crm/v3/pipelines", f"/crm/pipelines/{_V}")
INTROSPECTION_PATH = "/oauth/v2/private-apps/get/access-token-info"


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """What the gateway enforces before a handler runs. ``scopes`` lists alternatives: any one
    of them suffices (an empty list: the object type is unknown and the handler answers 400)."""

    scopes: ScopeRule | None = None
    ten_secondly: bool = True
    counted: bool = True
    auth: bool = True


ROUTES = web.AppKey("emulator_routes", dict[web.AbstractRoute, RouteSpec])


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"Invalid input JSON: {exc}") from None


def _type_of(request: web.Request, key: str) -> str | None:
    return defaults.OBJECT_TYPES.get(request.match_info.get(key, ""))


def _scope(kind: str, access: str, key: str = "object_type", *alternatives: str) -> ScopeRule:
    def rule(request: web.Request) -> list[str]:
        otype = _type_of(request, key)
        if otype is None:
            return []
        return [f"crm.{kind}.{otype}.{access}", *(a.format(otype) for a in alternatives)]

    return rule


READ_OBJECTS = _scope("objects", "read")
WRITE_OBJECTS = _scope("objects", "write")
READ_SCHEMAS = _scope("objects", "read", "object_type", "crm.schemas.{}.read")
WRITE_SCHEMAS = _scope("schemas", "write")


def _st(request: web.Request) -> EmulatorState:
    return request.app[STATE]


def _wanted(request: web.Request, store: Store, otype: str) -> list[str]:
    asked = [p for v in request.query.getall("properties", []) for p in v.split(",") if p]
    defs = store.catalog.properties[otype]
    return [p for p in asked if p in defs] if asked else list(defaults.DEFAULT_READ[otype])


# -- objects -----------------------------------------------------------------------------------
BatchFn = Callable[[Store, str, Any, str], tuple[int, dict[str, Any]]]


def _batch(fn: BatchFn) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        st = _st(request)
        otype = object_type(request.match_info["object_type"])
        return reply(*fn(st.store, otype, await read_json(request), st.now()))

    return handle


async def create_object(request: web.Request) -> web.StreamResponse:
    otype = object_type(request.match_info["object_type"])
    return reply(*writes.single_create(_st(request).store, otype, await read_json(request)))


async def get_object(request: web.Request) -> web.StreamResponse:
    store = _st(request).store
    otype = object_type(request.match_info["object_type"])
    record = writes.lookup(
        store, otype, request.match_info["object_id"], request.query.get("idProperty")
    )
    return reply(200, store.view(record, _wanted(request, store, otype)))


async def update_object(request: web.Request) -> web.StreamResponse:
    store = _st(request).store
    otype = object_type(request.match_info["object_type"])
    record = writes.lookup(
        store, otype, request.match_info["object_id"], request.query.get("idProperty")
    )
    return reply(*writes.single_update(store, record, await read_json(request)))


async def list_objects(request: web.Request) -> web.StreamResponse:
    store = _st(request).store
    otype = object_type(request.match_info["object_type"])
    try:
        limit = min(100, max(1, int(request.query.get("limit", "10"))))
    except ValueError:
        raise bad_request("limit must be an integer") from None
    records, after = store.page(otype, limit, request.query.get("after"))
    wanted = _wanted(request, store, otype)
    body: dict[str, Any] = {"results": [store.view(r, wanted) for r in records]}
    if after is not None:
        link = f"{request.url.with_query({'limit': str(limit), 'after': after})}"
        body["paging"] = {"next": {"after": after, "link": link}}
    return reply(200, body)


# -- associations ------------------------------------------------------------------------------
AssocFn = Callable[[Store, str, str, Any, str], tuple[int, dict[str, Any]]]


def _assoc_batch(fn: AssocFn) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        st, info = _st(request), request.match_info
        return reply(
            *fn(st.store, info["from_type"], info["to_type"], await read_json(request), st.now())
        )

    return handle


async def list_associations(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    return reply(
        *associations.list_for(
            _st(request).store, info["object_type"], info["object_id"], info["to_type"]
        )
    )


async def put_default_association(request: web.Request) -> web.StreamResponse:
    st, info = _st(request), request.match_info
    return reply(
        *associations.put_default(
            st.store,
            info["object_type"],
            info["object_id"],
            info["to_type"],
            info["to_id"],
            now=st.now(),
        )
    )


# -- properties, pipelines, token --------------------------------------------------------------
async def list_properties(request: web.Request) -> web.StreamResponse:
    otype = object_type(request.match_info["object_type"])
    return reply(200, {"results": _st(request).catalog.all_json(otype)})


async def get_property(request: web.Request) -> web.StreamResponse:
    otype = object_type(request.match_info["object_type"])
    return reply(200, _st(request).catalog.property_json(otype, request.match_info["name"]))


async def create_property(request: web.Request) -> web.StreamResponse:
    st = _st(request)
    otype = object_type(request.match_info["object_type"])
    prop = st.catalog.create_property(otype, await read_json(request))
    if prop.has_unique_value:
        st.store.reindex(otype)
    return reply(201, st.catalog.property_json(otype, prop.name))


async def list_groups(request: web.Request) -> web.StreamResponse:
    otype = object_type(request.match_info["object_type"])
    return reply(200, {"results": list(_st(request).catalog.groups[otype].values())})


async def create_group(request: web.Request) -> web.StreamResponse:
    otype = object_type(request.match_info["object_type"])
    return reply(201, _st(request).catalog.create_group(otype, await read_json(request)))


def _pipelines_of(request: web.Request) -> dict[str, dict[str, Any]]:
    otype = object_type(request.match_info["object_type"])
    return _st(request).catalog.pipelines if otype == "deals" else {}


async def list_pipelines(request: web.Request) -> web.StreamResponse:
    return reply(200, {"results": list(_pipelines_of(request).values())})


async def get_pipeline(request: web.Request) -> web.StreamResponse:
    pipeline = _pipelines_of(request).get(request.match_info["pipeline_id"])
    if pipeline is None:
        raise not_found(f"Unable to find pipeline {request.match_info['pipeline_id']}")
    return reply(200, pipeline)


async def token_info(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    key = body.get("tokenKey") if isinstance(body, dict) else None
    grant = _st(request).config.grant(key) if isinstance(key, str) else None
    if grant is None or not grant.introspectable:
        raise invalid_authentication("The access token provided is invalid or has been revoked.")
    return reply(
        200,
        {
            "hubId": grant.hub_id,
            "appId": grant.app_id,
            "userId": grant.user_id,
            "scopes": sorted(grant.scopes),
            "tokenType": "PRIVATE_APP",
        },
    )


def register(app: web.Application) -> None:
    """Add every API route; the order puts literal segments before ``{id}``-like ones."""
    table: dict[web.AbstractRoute, RouteSpec] = {}

    def add(
        method: str, prefixes: tuple[str, ...], suffix: str, handler: Handler, spec: RouteSpec
    ) -> None:
        for prefix in prefixes:
            table[app.router.add_route(method, prefix + suffix, handler)] = spec

    read, write = RouteSpec(READ_OBJECTS), RouteSpec(WRITE_OBJECTS)
    for op, fn in (
        ("read", writes.batch_read),
        ("create", writes.batch_create),
        ("update", writes.batch_update),
        ("upsert", writes.batch_upsert),
    ):
        add(
            "POST",
            OBJECTS,
            f"/{{object_type}}/batch/{op}",
            _batch(fn),
            read if op == "read" else write,
        )
    add("GET", OBJECTS, "/{object_type}", list_objects, read)
    add("POST", OBJECTS, "/{object_type}", create_object, write)
    add("GET", OBJECTS, "/{object_type}/{object_id}", get_object, read)
    add("PATCH", OBJECTS, "/{object_type}/{object_id}", update_object, write)
    add(
        "GET",
        OBJECT_ASSOCIATIONS,
        "/{object_type}/{object_id}/associations/{to_type}",
        list_associations,
        read,
    )
    add(
        "PUT",
        OBJECT_ASSOCIATIONS,
        "/{object_type}/{object_id}/associations/default/{to_type}/{to_id}",
        put_default_association,
        write,
    )
    assoc_read = RouteSpec(_scope("objects", "read", "from_type"), ten_secondly=False)
    assoc_write = RouteSpec(_scope("objects", "write", "from_type"), ten_secondly=False)
    add(
        "POST",
        ASSOCIATIONS,
        "/{from_type}/{to_type}/batch/create",
        _assoc_batch(associations.batch_create),
        assoc_write,
    )
    add(
        "POST",
        ASSOCIATIONS,
        "/{from_type}/{to_type}/batch/associate/default",
        _assoc_batch(associations.batch_associate_default),
        assoc_write,
    )
    add(
        "POST",
        ASSOCIATIONS,
        "/{from_type}/{to_type}/batch/read",
        _assoc_batch(associations.batch_read),
        assoc_read,
    )
    schema_read, schema_write = RouteSpec(READ_SCHEMAS), RouteSpec(WRITE_SCHEMAS)
    add("GET", PROPERTIES, "/{object_type}/groups", list_groups, schema_read)
    add("POST", PROPERTIES, "/{object_type}/groups", create_group, schema_write)
    add("GET", PROPERTIES, "/{object_type}", list_properties, schema_read)
    add("POST", PROPERTIES, "/{object_type}", create_property, schema_write)
    add("GET", PROPERTIES, "/{object_type}/{name}", get_property, schema_read)
    add("GET", PIPELINES, "/{object_type}", list_pipelines, schema_read)
    add("GET", PIPELINES, "/{object_type}/{pipeline_id}", get_pipeline, schema_read)
    add("POST", ("",), INTROSPECTION_PATH, token_info, RouteSpec(counted=False, auth=False))
    app[ROUTES] = table
