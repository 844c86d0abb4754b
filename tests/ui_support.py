"""Helpers shared by the web UI tests: seeded drafts, the CSRF token of a page, signing in."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api_support import Api

TICKETS = [
    {
        "title": "Checkout payments failing for EU cards",
        "body": "Since this morning 30% of EU card payments fail with card_declined: "
        "do_not_honor. Nothing changed on our side.",
        "customer": "acme",
    },
    {
        "title": "Webhooks failing signature verification",
        "body": "Since we upgraded to @ledgerline/node 9.4.0 every webhook fails with "
        "webhook_signature_invalid. We verify with the raw body.",
        "customer": "globex",
    },
    {
        "title": "SSO login loops back to the sign-in page",
        "body": "Our users are redirected to the login page again after SAML SSO. "
        "Error: saml_response_invalid, audience mismatch.",
        "customer": "initech",
    },
]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def seed_drafts(api: Api, tickets: list[dict[str, str]] | None = None) -> list[str]:
    """Create cases through the API and run their triage jobs; returns the case ids."""
    ids = []
    for ticket in tickets or TICKETS:
        r = api.client.post("/v1/cases", json=ticket, headers=api.headers("integration"))
        assert r.status_code == 202, r.text
        ids.append(r.json()["case_id"])
    api.drain()
    return ids


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, secret: str) -> None:
    """Start a fresh session and sign in with an API key through the login form."""
    client.cookies.clear()
    page = client.get("/ui/login")
    assert page.status_code == 200
    r = client.post(
        "/ui/login",
        data={"csrf": csrf_of(page.text), "api_key": secret, "next": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
