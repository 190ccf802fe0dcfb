"""Every route of the app, walked as four people: who gets what, and nothing of another
organisation in any answer.

Organisation A ("Alpha-Secret-Org", owner alice) has projects A1 and A2, each with a
recorded session; mia is a member of A restricted to A1. Organisation B (owner bob) has
one project with a session. The routes come from the app's own route table, so a new
route is walked without anyone adding it here. What a new route may need from this file:
a value and a rule for a new path parameter name (World.values and PARAM_RULES; a name
without them fails the walk), a minimal query or body when its request would not pass
validation without one (REQUESTS; such a 400 fails the walk), and, when plain members
may not use a project route, an entry in MANAGERS_ONLY.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from starlette.routing import Mount

from sessionlens import bootstrap, config, projects
from sessionlens.accounts import members, onetime, tokens, users
from sessionlens.analytics import funnels, saved_funnels, search, segments
from sessionlens.app import create_app
from sessionlens.context import Context
from sessionlens.demo import catalog
from sessionlens.processing.processor import Processor
from sessionlens.storage.tables import (
    api_token,
    membership,
    membership_project,
    one_time_token,
    organisation,
    project,
    segment,
    session,
    visitor,
)
from sessionlens.surveys import definition as survey_definition
from sessionlens.surveys import store as survey_store
from tests.conftest import PASSWORD, Account, batch, click, login, send

T0 = 1_764_000_000_000
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STATIC_MOUNTS = {"static", "demo-static"}

# Open to anyone: signing in, one-time links, the recorder's ingest, the demo shop, the
# API's own documentation and the health checks (/metrics wants its own token, or loopback:
# tests/test_health.py). Nothing else may be added here.
PUBLIC = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/sessionlens.js"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("OPTIONS", "/i/v1/{project_key}/batch"),
    ("POST", "/i/v1/{project_key}/batch"),
    ("GET", "/i/v1/{project_key}/config"),
    ("OPTIONS", "/i/v1/{project_key}/survey"),
    ("POST", "/i/v1/{project_key}/survey"),
    ("OPTIONS", "/i/v1/{project_key}/feedback"),
    ("POST", "/i/v1/{project_key}/feedback"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/2fa"),
    ("POST", "/login/2fa"),
    ("GET", "/signup"),
    ("POST", "/signup"),
    ("GET", "/verify/{token}"),
    ("GET", "/password/forgot"),
    ("POST", "/password/forgot"),
    ("GET", "/password/reset/{token}"),
    ("POST", "/password/reset/{token}"),
    ("GET", "/invites/{token}"),
    ("POST", "/invites/{token}"),
    ("GET", "/demo"),
    ("GET", "/demo/"),
    ("GET", "/demo/products"),
    ("GET", "/demo/products/{slug}"),
    ("GET", "/demo/cart"),
    ("GET", "/demo/checkout"),
    ("GET", "/demo/thanks"),
    ("GET", "/demo/contact"),
}
PUBLIC_PATHS = {"/", "/healthz", "/readyz", "/metrics", "/sessionlens.js"}
PUBLIC_AREAS = (
    "/login",
    "/signup",
    "/verify/",
    "/password/",
    "/invites/",
    "/i/v1/",
    "/demo",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/docs/oauth2-redirect",
)

# Routes of a project that only owners and admins of its organisation may use.
MANAGERS_ONLY = {
    ("POST", "/projects/{project_id}/privacy"),
    ("POST", "/projects/{project_id}/recording"),
    ("GET", "/projects/{project_id}/visitors/export"),
    ("POST", "/projects/{project_id}/visitors/erase"),
    ("GET", "/api/v1/projects/{project_id}/visitors/export"),
    ("POST", "/api/v1/projects/{project_id}/visitors/erase"),
    # The walked segments were saved by alice: a member may delete only her own.
    ("POST", "/projects/{project_id}/segments/{segment_id}/delete"),
    # So were the walked funnels: a member may change only her own.
    ("POST", "/projects/{project_id}/funnels/{funnel_id}"),
    ("POST", "/projects/{project_id}/funnels/{funnel_id}/delete"),
    ("PUT", "/api/v1/projects/{project_id}/funnels/{funnel_id}"),
    ("DELETE", "/api/v1/projects/{project_id}/funnels/{funnel_id}"),
    # Surveys are built, started, paused and deleted by owners and admins only.
    ("POST", "/projects/{project_id}/surveys/settings"),
    ("GET", "/projects/{project_id}/surveys/new"),
    ("POST", "/projects/{project_id}/surveys/new"),
    ("GET", "/projects/{project_id}/surveys/{survey_id}/edit"),
    ("POST", "/projects/{project_id}/surveys/{survey_id}/edit"),
    ("POST", "/projects/{project_id}/surveys/{survey_id}/status"),
    ("POST", "/projects/{project_id}/surveys/{survey_id}/delete"),
}

# What each path parameter names, so which rule it brings (the strictest one wins):
# a project's things, an organisation's management, one user's own things, or nothing
# (a secret link, a public key, a demo page) that a login would be needed for.
PARAM_RULES = {
    "project_id": "project",
    "session_id": "project",
    "index": "project",
    "segment_id": "project",
    "funnel_id": "project",
    "survey_id": "project",
    "org_id": "managers",
    "user_id": "managers",
    "token_id": "own",
    "project_key": "login",
    "token": "login",
    "slug": "login",
    "kind": "login",
}
STRICTNESS = ("login", "project", "managers", "own")
PROJECT_PARAMS = {"project_id", "session_id", "index", "segment_id", "funnel_id", "project_key"}
PROJECT_PARAMS |= {"survey_id"}

# Queries and bodies for routes that need more than their path to reach the access check.
# The console erasure is not confirmed, so it erases nothing; the API erasure does erase
# the visitor when alice sends it, after every read of her walk. So for funnels.
FUNNEL_FORM = {"name": "Walked", "window": "30", "step_type": ["url", "url"]}
FUNNEL_FORM |= {"step_value": ["/", "/cart"]}
FUNNEL_JSON = {"name": "Walked", "steps": [{"type": "url", "value": "/"}] * 2}
REQUESTS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("POST", "/projects/{project_id}/funnels"): {"data": FUNNEL_FORM},
    ("POST", "/projects/{project_id}/funnels/{funnel_id}"): {"data": FUNNEL_FORM},
    ("POST", "/api/v1/projects/{project_id}/funnels/query"): {"json": FUNNEL_JSON},
    ("POST", "/api/v1/projects/{project_id}/funnels"): {"json": FUNNEL_JSON},
    ("PUT", "/api/v1/projects/{project_id}/funnels/{funnel_id}"): {"json": FUNNEL_JSON},
    ("GET", "/projects/{project_id}/visitors/export"): {
        "params": {"by": "visitor", "id": "{visitor_id}"}
    },
    ("POST", "/projects/{project_id}/visitors/erase"): {
        "data": {"by": "visitor", "id": "{visitor_id}", "confirm": ""}
    },
    ("GET", "/api/v1/projects/{project_id}/visitors/export"): {
        "params": {"visitor_id": "{visitor_id}"}
    },
    ("POST", "/api/v1/projects/{project_id}/visitors/erase"): {
        "json": {"visitor_id": "{visitor_id}"}
    },
}
# Walked last: after it the walker is logged out.
ENDS_THE_LOGIN = {("POST", "/logout")}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/v1/") and self.key not in PUBLIC

    def rule(self) -> str:
        if self.key in PUBLIC:
            return "public"
        rules = [PARAM_RULES.get(name, "login") for name in self.params]
        if self.key in MANAGERS_ONLY:
            rules.append("managers")
        return max(rules, key=STRICTNESS.index, default="login")

    def variants(self) -> tuple[str, ...]:
        return ("A1", "A2") if PROJECT_PARAMS & set(self.params) else ("A",)


@dataclass(frozen=True)
class Recorded:
    """A project with one recorded, processed session, one saved segment and a survey."""

    project: projects.Project
    session_id: str
    client_session_id: str
    visitor_id: str
    origin_host: str
    segment: segments.Segment
    funnel_id: int
    survey_id: int

    @property
    def markers(self) -> tuple[str, ...]:
        return (
            self.project.name,
            self.segment.name,
            f"{self.project.name}-Survey",
            self.project.ingest_key,
            self.session_id,
            self.client_session_id,
            self.visitor_id,
            self.origin_host,
        )


@dataclass(frozen=True)
class Person:
    email: str
    user_id: int
    token: str


@dataclass(frozen=True)
class World:
    org_a: int
    org_b: int
    alice: Person
    mia: Person
    bob: Person
    a1: Recorded
    a2: Recorded
    b1: Recorded
    spare_token: str
    spare_token_id: int
    used_link: str

    def values(self, variant: str) -> dict[str, Any]:
        """Path parameters (and REQUESTS placeholders) for A's objects."""
        recorded = self.a2 if variant == "A2" else self.a1
        return {
            "project_id": recorded.project.id,
            "session_id": recorded.session_id,
            "index": 0,
            "segment_id": recorded.segment.id,
            "funnel_id": recorded.funnel_id,
            "survey_id": recorded.survey_id,
            "project_key": recorded.project.ingest_key,
            "visitor_id": recorded.visitor_id,
            "org_id": self.org_a,
            "user_id": self.mia.user_id,
            "token_id": self.spare_token_id,
            "token": self.used_link,
            "slug": catalog.PRODUCTS[0].slug,
            "kind": "overview",
        }

    def secrets(self) -> tuple[str, ...]:
        """Shown once when made, never in any later answer to anyone."""
        return (
            self.alice.token,
            self.mia.token,
            self.bob.token,
            self.spare_token,
            self.used_link,
        )

    def forbidden_to(self, who: str) -> tuple[str, ...]:
        """What must not appear in any answer to `who`."""
        a_org = ("Alpha-Secret", "alpha-secret.example", *self.a1.markers, *self.a2.markers)
        b_org = ("Bravo-Secret", "bravo-secret.example", *self.b1.markers)
        by_who = {
            "anonymous": a_org + b_org,
            "alice": b_org,
            "mia": self.a2.markers + b_org,
            "bob": a_org,
        }
        return self.secrets() + by_who[who]


@pytest.fixture
def settings(settings: config.Settings) -> config.Settings:
    """With the demo shop on, so its routes are in the table too."""
    return dataclasses.replace(settings, demo=True)


def record(client: TestClient, ctx: Context, owner: Account, name: str) -> Recorded:
    """A session in the project, and a saved search (segment) of it."""
    origin = owner.project.website_origins[0]
    client_session_id = f"{name}Session01"
    visitor_id = f"{name}Visitor01"
    send(
        client,
        owner,
        batch(0, session_id=client_session_id, visitor_id=visitor_id, url=f"{origin}/"),
    )
    send(
        client,
        owner,
        batch(1, session_id=client_session_id, visitor_id=visitor_id, events=[click(T0 + 500)]),
    )
    with ctx.engine.begin() as conn:
        saved = segments.save(
            conn,
            owner.project.id,
            f"{owner.project.name}-Segment",
            search.parse({"utm_source": "newsletter"}),
            owner.user_id,
        )
        steps = funnels.parse_steps([{"type": "url", "value": "/"}] * 2)
        walked = saved_funnels.create(conn, owner.project.id, "Walked", steps, 30, owner.user_id)
        question = {"id": "q1", "kind": "text", "text": "Walked?"}
        asked = survey_store.create(
            conn,
            owner.project.id,
            f"{owner.project.name}-Survey",
            survey_definition.parse({"questions": [question]}),
            owner.user_id,
        )
    host = origin.split("//")[1]
    return Recorded(
        owner.project, "", client_session_id, visitor_id, host, saved, walked.id, asked.id
    )


@pytest.fixture
def walker(ctx: Context) -> Iterator[TestClient]:
    """A client that answers a crash with the 500 a browser would get, so that a walk
    lists every problem instead of stopping at the first."""
    app = create_app(ctx, run_processor=False)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def world(ctx: Context, walker: TestClient, processor: Processor) -> World:
    bootstrap.ensure(ctx.engine, ctx.settings)  # the admin and the Demo project, as on a first run
    with ctx.engine.begin() as conn:
        alice, org_a = users.create_user(
            conn, "alice@alpha-secret.example", "Alice", PASSWORD, org_name="Alpha-Secret-Org"
        )
        mia, _ = users.create_user(
            conn, "mia@alpha-secret.example", "Mia", PASSWORD, org_name="Alpha-Secret-Org"
        )
        bob, org_b = users.create_user(
            conn, "bob@bravo-secret.example", "Bob", PASSWORD, org_name="Bravo-Secret-Org"
        )
        a1 = projects.create_project(
            conn, org_a, "Alpha-Secret-Project-One", ["https://alpha-one.example"]
        )
        a2 = projects.create_project(
            conn, org_a, "Alpha-Secret-Project-Two", ["https://alpha-two.example"]
        )
        b1 = projects.create_project(conn, org_b, "Bravo-Secret-Project", ["https://bravo.example"])
        members.change(conn, org_a, "owner", mia.id, "member", [a1.id])
        people = {
            user.email: Person(
                user.email,
                user.id,
                tokens.create_api_token(conn, user.id, "walk", org_id, "write"),
            )
            for user, org_id in ((alice, org_a), (mia, org_a), (bob, org_b))
        }
        spare_token = tokens.create_api_token(conn, alice.id, "spare", org_a, "write")
        spare_token_id = conn.execute(
            select(api_token.c.id).where(api_token.c.name == "spare")
        ).scalar_one()
        # A link that was used already: a real invitation to A that must grant nothing now.
        used_link = onetime.issue(
            conn, "invite", "newcomer@alpha-secret.example", organisation_id=org_a, role="member"
        )
        assert onetime.redeem(conn, "invite", used_link) is not None
    recorded = [
        record(walker, ctx, Account(owner.email, owner.id, org_id, found, ""), name)
        for owner, org_id, found, name in (
            (alice, org_a, a1, "alphaOne"),
            (alice, org_a, a2, "alphaTwo"),
            (bob, org_b, b1, "bravoOne"),
        )
    ]
    processor.drain()
    with ctx.engine.connect() as conn:
        ids = {row.client_id: row.id for row in conn.execute(select(session))}
    a1_done, a2_done, b1_done = (
        dataclasses.replace(r, session_id=ids[r.client_session_id]) for r in recorded
    )
    return World(
        org_a,
        org_b,
        people[alice.email],
        people[mia.email],
        people[bob.email],
        a1_done,
        a2_done,
        b1_done,
        spare_token,
        spare_token_id,
        used_link,
    )


def flat_routes(app: fastapi.FastAPI) -> Iterator[Any]:
    # FastAPI 0.137 keeps included routers as nodes of a tree; this flattens it.
    expand = getattr(fastapi.routing, "iter_route_contexts", None)
    yield from (expand(app.routes) if expand else app.routes)


def endpoints(app: fastapi.FastAPI) -> list[Endpoint]:
    """Every route and method of the app, in the order a walk can take them: reads first,
    then writes, then what ends the login."""
    found = []
    for route in flat_routes(app):
        if isinstance(getattr(route, "original_route", route), Mount):
            assert route.name in STATIC_MOUNTS, f"walk the new mount {route.path} or list it"
            continue
        found += [Endpoint(m, route.path) for m in sorted(set(route.methods or ()) - {"HEAD"})]
    return sorted(found, key=lambda e: (e.key in ENDS_THE_LOGIN, e.method not in SAFE_METHODS))


def expectation(who: str, endpoint: Endpoint, variant: str) -> str:
    rule = endpoint.rule()
    if rule == "public":
        return "public"
    if who == "anonymous":
        return "login"
    if rule == "login" or who == "alice":
        return "allowed"
    if who == "bob":
        return "refused"
    # mia: her own project A1 only, and no management
    if rule == "own" or variant == "A2":
        return "404"
    return "403" if rule == "managers" else "allowed"


def judge(response: Response, expected: str, endpoint: Endpoint) -> str | None:
    """What is wrong with the answer, or None."""
    status = response.status_code
    location = response.headers.get("location", "")
    asks_to_log_in = status == 401 or (status == 303 and location.startswith("/login?next="))
    if status >= 500:
        return f"server error {status}"
    if status == 400 and "bad request: " in response.text:
        return f"did not pass validation ({response.text[:200]}); add a request to REQUESTS"
    if expected == "public" and asks_to_log_in:
        return f"listed as public but asks to log in ({status} {location})"
    if expected == "login" and not (status == 401 if endpoint.is_api else asks_to_log_in):
        return f"expected a request to log in, got {status} {location}"
    if expected == "allowed" and (status in (401, 403, 404) or asks_to_log_in):
        return f"expected to be allowed, got {status} {location}"
    if expected == "refused" and status not in (403, 404):
        return f"expected 403 or 404, got {status}"
    if expected in ("403", "404") and str(status) != expected:
        return f"expected {expected}, got {status}"
    return None


def csrf_token(client: TestClient, path: str) -> str:
    found = CSRF.search(client.get(path).text)
    assert found is not None, f"no CSRF token on {path}"
    return found.group(1)


def send_request(
    client: TestClient,
    endpoint: Endpoint,
    values: dict[str, Any],
    token: str | None,
    csrf: dict[str, str],
) -> Response:
    url = endpoint.path.format(**values)
    extra: dict[str, Any] = {
        kind: {
            name: value.format(**values) if isinstance(value, str) else value
            for name, value in fields.items()
        }
        for kind, fields in REQUESTS.get(endpoint.key, {}).items()
    }
    headers = {"Authorization": f"Bearer {token}"} if token and endpoint.is_api else {}
    if endpoint.method in SAFE_METHODS:
        pass
    elif endpoint.is_api:
        extra.setdefault("json", {})
    else:
        which = "public" if endpoint.rule() == "public" else "console"
        extra["data"] = {"csrf_token": csrf[which], **extra.get("data", {})}
    return client.request(endpoint.method, url, headers=headers, follow_redirects=False, **extra)


def log_in(client: TestClient, person: Person | None) -> dict[str, str]:
    """Log in (unless anonymous); the CSRF tokens of the sign-in forms and of the console."""
    if person is not None:
        login(client, person.email)
    csrf = {"public": csrf_token(client, "/login")}
    csrf["console"] = csrf_token(client, "/account") if person else csrf["public"]
    return csrf


def walk(client: TestClient, world: World, who: str) -> list[str]:
    """Send every route of the app as `who`; the problems found, one line each."""
    person = getattr(world, who, None)
    csrf = log_in(client, person)
    forbidden = world.forbidden_to(who)
    problems = []
    for endpoint in endpoints(client.app):  # type: ignore[arg-type]
        for variant in endpoint.variants():
            label = f"{who} {endpoint.method} {endpoint.path} [{variant}]"
            values = world.values(variant)
            unknown = [n for n in endpoint.params if n not in values or n not in PARAM_RULES]
            if unknown:
                problems.append(f"{label}: add {unknown} to World.values and PARAM_RULES")
                continue
            token = person.token if person else None
            response = send_request(client, endpoint, values, token, csrf)
            problem = judge(response, expectation(who, endpoint, variant), endpoint)
            if problem:
                problems.append(f"{label}: {problem}")
            leaked = [marker for marker in forbidden if marker.lower() in response.text.lower()]
            if leaked:
                problems.append(f"{label}: the answer shows {leaked}")
            if person and endpoint.is_api:
                # The API never takes the console's login cookie for a token.
                bare = send_request(client, endpoint, values, None, csrf)
                if bare.status_code != 401:
                    problems.append(f"{label}: without a token, got {bare.status_code}")
    return problems


def state_of_a(ctx: Context, world: World) -> dict[str, list[Any]]:
    """What of organisation A someone other than its owner must not be able to change."""
    with ctx.engine.connect() as conn:
        queries = {
            "organisation": select(organisation).where(organisation.c.id == world.org_a),
            "projects": select(project).where(project.c.organisation_id == world.org_a),
            "sessions": select(session.c.id, session.c.project_id).order_by(session.c.id),
            "visitors": select(visitor.c.id, visitor.c.client_id).order_by(visitor.c.id),
            "members": select(membership.c.user_id, membership.c.role)
            .where(membership.c.organisation_id == world.org_a)
            .order_by(membership.c.user_id),
            "restrictions": select(membership_project).order_by(
                membership_project.c.membership_id, membership_project.c.project_id
            ),
            "alice's tokens": select(api_token.c.id, api_token.c.revoked_at)
            .where(api_token.c.user_id == world.alice.user_id)
            .order_by(api_token.c.id),
            "links": select(one_time_token.c.id, one_time_token.c.used_at).order_by(
                one_time_token.c.id
            ),
            "segments": select(segment.c.id, segment.c.name).order_by(segment.c.id),
        }
        return {
            name: [tuple(row) for row in conn.execute(query)] for name, query in queries.items()
        }


def test_public_routes_are_only_sign_in_links_ingest_demo_and_docs() -> None:
    for method, path in sorted(PUBLIC):
        assert path in PUBLIC_PATHS or path.startswith(PUBLIC_AREAS), (method, path)
        assert (method, path) not in MANAGERS_ONLY


def test_every_public_route_listed_is_in_the_app(walker: TestClient) -> None:
    walked = {endpoint.key for endpoint in endpoints(walker.app)}  # type: ignore[arg-type]
    assert walked >= PUBLIC, f"not routes of the app any more: {sorted(PUBLIC - walked)}"


def test_anonymous_visitor_is_asked_to_log_in_on_every_private_route(
    walker: TestClient, world: World
) -> None:
    problems = walk(walker, world, "anonymous")
    assert not problems, "\n".join(problems)


def test_owner_of_another_organisation_gets_nothing_of_organisation_a(
    walker: TestClient, ctx: Context, world: World
) -> None:
    before = state_of_a(ctx, world)
    problems = walk(walker, world, "bob")
    assert not problems, "\n".join(problems)
    assert state_of_a(ctx, world) == before


def test_member_restricted_to_one_project_sees_it_and_nothing_else_nor_management(
    walker: TestClient, ctx: Context, world: World
) -> None:
    before = state_of_a(ctx, world)
    problems = walk(walker, world, "mia")
    assert not problems, "\n".join(problems)
    assert state_of_a(ctx, world) == before


def test_owner_reaches_every_route_of_her_organisation_without_an_error(
    walker: TestClient, world: World
) -> None:
    problems = walk(walker, world, "alice")
    assert not problems, "\n".join(problems)


def test_an_id_too_big_for_the_database_is_a_client_error_not_a_crash(
    walker: TestClient, world: World
) -> None:
    too_big = 2**63  # fits neither PostgreSQL's integer nor SQLite's
    csrf = log_in(walker, world.alice)
    problems = []
    for endpoint in endpoints(walker.app):  # type: ignore[arg-type]
        values = world.values("A1")
        numbers = {n: too_big for n in endpoint.params if isinstance(values.get(n), int)}
        if numbers and endpoint.key not in ENDS_THE_LOGIN:
            response = send_request(walker, endpoint, values | numbers, world.alice.token, csrf)
            if not 400 <= response.status_code < 500:
                problems.append(f"{endpoint.method} {endpoint.path}: {response.status_code}")
    assert not problems, "\n".join(problems)
