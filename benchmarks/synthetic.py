"""Synthetic support cases for speed benchmarks (deterministic, realistic length mix)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from core.domain import Case

_COMPONENTS = [
    "payments api",
    "webhooks",
    "checkout sdk",
    "oauth",
    "dashboard",
    "exports",
    "payouts",
    "billing",
    "gateway",
    "sso",
    "reporting",
    "disputes",
]
_SYMPTOMS = [
    "returns HTTP 500 for {what}",
    "times out after {n} seconds on {what}",
    "rejects requests with 401 invalid_grant",
    "fails with ERR_IDEMPOTENCY_KEY_REUSED",
    "shows latency spikes every {n} minutes",
    "drops events silently for {what}",
    "raises NullPointerException in {cls}.process",
    "returns 429 rate_limit_exceeded",
    "webhook_signature_invalid after key rotation",
    "TLS handshake timeout to {host}",
]
_WHAT = [
    "refunds",
    "3ds payments",
    "recurring charges",
    "EU cards",
    "large exports",
    "batch payouts",
    "invoice finalisation",
    "partial captures",
]
_FILLER = [
    "customer",
    "reports",
    "impact",
    "in",
    "production",
    "since",
    "the",
    "deploy",
    "yesterday",
    "and",
    "asked",
    "for",
    "an",
    "update",
    "we",
    "checked",
    "the",
    "status",
    "page",
    "and",
    "nothing",
    "was",
    "posted",
    "logs",
    "attached",
    "show",
    "the",
    "request",
    "id",
    "and",
    "the",
    "error",
    "appears",
    "intermittently",
    "across",
    "regions",
    "retrying",
    "sometimes",
    "succeeds",
    "the",
    "account",
    "is",
    "on",
    "the",
    "enterprise",
    "plan",
    "and",
    "the",
    "integration",
    "uses",
    "the",
    "latest",
    "sdk",
    "version",
    "with",
    "default",
    "settings",
]
QUEUES = ["payments-api", "integrations", "identity", "billing", "data-platform", "reliability"]


def synthetic_cases(n: int, seed: int = 42) -> list[Case]:
    """n cases of 10-200 words (log-uniform, median ~45, like real tickets), shared failures."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    cases = []
    for i in range(n):
        comp = rng.choice(_COMPONENTS)
        symptom = rng.choice(_SYMPTOMS).format(
            what=rng.choice(_WHAT),
            n=rng.randint(2, 90),
            cls=f"com.ledger.{comp.title()}",
            host=f"api-{rng.randint(1, 40)}.prod.internal",
        )
        words = int(math.exp(rng.uniform(math.log(10), math.log(200))))
        body = " ".join(rng.choice(_FILLER) for _ in range(words))
        body = f"{comp} {symptom}. request id req_{rng.getrandbits(48):012x}. {body}"
        cases.append(
            Case(
                id=f"bench-{i}",
                title=f"{comp} {symptom}"[:120],
                body=body,
                created_at=start + timedelta(minutes=7 * i),
                queue=rng.choice(QUEUES),
                status="resolved",
                product=comp,
                root_cause=f"{comp} misconfiguration ({symptom.split()[0]} path)",
                resolution="Corrected the configuration and confirmed requests succeed.",
            )
        )
    return cases
