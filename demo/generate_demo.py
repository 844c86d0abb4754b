#!/usr/bin/env python3
"""Generate Casebook's demo cases (demo/cases.jsonl) for the fictional Ledgerline platform.

Deterministic: one seeded `random.Random`, no dependence on hash order or the clock, so a re-run
reproduces the committed file byte for byte. Standard library only.

    python demo/generate_demo.py                  # rewrites demo/cases.jsonl
    python demo/generate_demo.py --out /tmp/cases.jsonl
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import re
import string
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20261125
RANGE_START = datetime(2026, 5, 1, tzinfo=UTC)
RANGE_END = datetime(2026, 11, 25, 23, 59, 59, tzinfo=UTC)
FIRST_CASE_NUMBER = 48213
DEFAULT_OUT = Path(__file__).resolve().parent / "cases.jsonl"
B62 = string.digits + string.ascii_letters


# --- people and companies ----------------------------------------------------------------------
@dataclass(frozen=True)
class Contact:
    """A person at a customer who files tickets."""

    first: str
    last: str
    title: str
    phone: str = ""


@dataclass(frozen=True)
class Customer:
    """A fictional Ledgerline merchant or platform."""

    name: str
    slug: str
    country: str
    plan: str
    contacts: tuple[Contact, ...]
    platform: bool = False
    weight: int = 2

    @property
    def account(self) -> str:
        """Stable account id derived from the name, so reordering customers changes nothing."""
        digest = hashlib.sha256(f"ledgerline:{self.name}".encode()).digest()
        return "acct_1" + "".join(B62[b % 62] for b in digest[:15])

    @property
    def domain(self) -> str:
        """Mail domain; `.example` keeps every address fictional."""
        return f"{self.slug}.example"

    @property
    def region(self) -> str:
        """Ledgerline region the account is homed in."""
        if self.country in {"US", "CA"}:
            return "us-east"
        if self.country in {"JP", "KR", "AU", "NZ", "SG"}:
            return "ap-southeast"
        return "eu-west"

    @property
    def currency(self) -> str:
        """Settlement currency."""
        return CURRENCY_BY_COUNTRY.get(self.country, "eur")

    def email(self, contact: Contact) -> str:
        """Address of a contact; small shops use first names only."""
        first = _ascii(contact.first).lower().replace(" ", "")
        last = _ascii(contact.last).lower().replace(" ", "")
        local = first if self.plan == "starter" else f"{first}.{last}"
        return f"{local}@{self.domain}"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded if not unicodedata.combining(ch) and ch.isascii())


CURRENCY_BY_COUNTRY = {
    "US": "usd",
    "CA": "cad",
    "GB": "gbp",
    "JP": "jpy",
    "KR": "krw",
    "AU": "aud",
    "NZ": "nzd",
    "SG": "sgd",
    "SE": "sek",
    "DK": "dkk",
    "NO": "nok",
    "CH": "chf",
}
CURRENCY_SYMBOL = {
    "usd": "$",
    "cad": "CA$",
    "gbp": "£",
    "eur": "€",
    "jpy": "¥",
    "krw": "₩",
    "aud": "A$",
    "nzd": "NZ$",
    "sgd": "S$",
    "sek": "SEK ",
    "dkk": "DKK ",
    "nok": "NOK ",
    "chf": "CHF ",
}
ZERO_DECIMAL = {"jpy", "krw"}
POPS = {
    "eu-west": ("fra2", "ams1", "lhr3", "dub1"),
    "us-east": ("iad1", "ord2", "sfo1", "yyz1"),
    "ap-southeast": ("nrt1", "syd1", "sin1", "icn1"),
}
AGENTS = (
    "Maya Haddad",
    "Tomás Ferreira",
    "Lena Vogt",
    "Kwame Asante",
    "Priya Raman",
    "Jonas Eklund",
    "Aiko Tanaka",
    "Sam Okoro",
    "Claire Dubois",
    "Ravi Menon",
)
# Well-known public test card numbers: Luhn-valid, never real cards.
TEST_CARDS = (
    "4242 4242 4242 4242",
    "4000 0566 5566 5556",
    "5555 5555 5555 4444",
    "4000 0025 0000 3155",
    "4000000000009995",
    "2223-0031-2200-3222",
    "6011 1111 1111 1117",
)
PLATFORM_APPS = ("ca_", "app_")


C = Contact
CUSTOMERS: tuple[Customer, ...] = (
    Customer(
        "Bramblewood Outfitters",
        "bramblewood",
        "GB",
        "growth",
        (
            C("Hannah", "Pryce", "Head of E-commerce", "+44 7700 900412"),
            C("Dev", "Mistry", "Lead Backend Engineer", "+44 7700 900873"),
        ),
        weight=4,
    ),
    Customer(
        "Harbourlight Dental Group",
        "harbourlight-dental",
        "GB",
        "growth",
        (C("Fiona", "MacLeod", "Practice Systems Manager", "+44 7700 900127"),),
    ),
    Customer(
        "Copperkettle Bakery",
        "copperkettle",
        "GB",
        "starter",
        (C("Rosie", "Atherton", "Owner", "+44 7700 900655"),),
        weight=1,
    ),
    Customer(
        "Kestrel & Vane Insurance",
        "kestrelvane",
        "GB",
        "enterprise",
        (
            C("Oliver", "Benning", "Platform Engineering Lead", "+44 7700 900301"),
            C("Amara", "Nwosu", "Payments Product Manager", "+44 7700 900944"),
        ),
        weight=3,
    ),
    Customer(
        "Thistledown Events",
        "thistledown",
        "GB",
        "growth",
        (C("Callum", "Reid", "CTO", "+44 7700 900218"),),
    ),
    Customer(
        "Mossgrove Tutoring",
        "mossgrove",
        "GB",
        "starter",
        (C("Imogen", "Hale", "Founder", "+44 7700 900560"),),
        weight=1,
    ),
    Customer(
        "Lough Fennel Hotels",
        "loughfennel",
        "IE",
        "growth",
        (
            C("Siobhán", "Gallagher", "Revenue Systems Manager", "+353 20 910 4417"),
            C("Cian", "Brennan", "IT Manager", "+353 20 910 2285"),
        ),
    ),
    Customer(
        "Quayside Ticketing",
        "quayside",
        "IE",
        "enterprise",
        (C("Niamh", "Keane", "Engineering Manager", "+353 20 910 7730"),),
        platform=True,
        weight=3,
    ),
    Customer(
        "Quokka Freight Co.",
        "quokkafreight",
        "US",
        "enterprise",
        (
            C("Marisol", "Vega", "Director of Engineering", "+1 (512) 555-0143"),
            C("Trent", "Hollis", "Senior Backend Engineer", "+1 (512) 555-0178"),
        ),
        weight=4,
    ),
    Customer(
        "Tindertrail Games",
        "tindertrail",
        "US",
        "growth",
        (C("Jordan", "Pike", "Backend Developer", "+1 (206) 555-0119"),),
        weight=3,
    ),
    Customer(
        "Pelican Ridge Ticketing",
        "pelicanridge",
        "US",
        "growth",
        (
            C("Ashley", "Dunmore", "Head of Operations", "+1 (904) 555-0162"),
            C("Marcus", "Bell", "Full-stack Engineer", "+1 (904) 555-0105"),
        ),
        weight=3,
    ),
    Customer(
        "Juniper Ledger Apps",
        "juniperledger",
        "US",
        "growth",
        (C("Priyanka", "Sethi", "Integrations Engineer", "+1 (415) 555-0137"),),
        platform=True,
        weight=3,
    ),
    Customer(
        "Bluegill Subscriptions",
        "bluegill",
        "US",
        "growth",
        (C("Ethan", "Marsh", "Billing Engineer", "+1 (612) 555-0124"),),
        weight=3,
    ),
    Customer(
        "Starling Street Grocers",
        "starlingstreet",
        "US",
        "starter",
        (C("Dolores", "Quintero", "Store Manager", "+1 (718) 555-0190"),),
        weight=1,
    ),
    Customer(
        "Cobalt Cactus Coffee",
        "cobaltcactus",
        "US",
        "starter",
        (C("Ramon", "Ybarra", "Co-founder", "+1 (602) 555-0153"),),
        weight=1,
    ),
    Customer(
        "Redwood Relay Logistics",
        "redwoodrelay",
        "US",
        "enterprise",
        (
            C("Grace", "Whitfield", "VP Engineering", "+1 (916) 555-0110"),
            C("Tobias", "Lindqvist", "Staff SRE", "+1 (916) 555-0187"),
        ),
        weight=3,
    ),
    Customer(
        "Hollow Oak Fitness",
        "hollowoak",
        "US",
        "growth",
        (C("Kendra", "Shaw", "Membership Systems Lead", "+1 (303) 555-0146"),),
    ),
    Customer(
        "Prairie Lantern Books",
        "prairielantern",
        "US",
        "starter",
        (C("Walt", "Gunderson", "Owner", "+1 (701) 555-0131"),),
        weight=1,
    ),
    Customer(
        "Gilded Gecko Marketplace",
        "gildedgecko",
        "US",
        "enterprise",
        (
            C("Naomi", "Feld", "Payments Engineering Manager", "+1 (646) 555-0171"),
            C("Luis", "Carranza", "Senior Engineer", "+1 (646) 555-0116"),
        ),
        platform=True,
        weight=4,
    ),
    Customer(
        "Nimbus Parcel",
        "nimbusparcel",
        "US",
        "enterprise",
        (C("Harper", "Olsen", "Engineering Lead", "+1 (312) 555-0158"),),
        weight=3,
    ),
    Customer(
        "Saltmarsh Surf Co.",
        "saltmarsh",
        "US",
        "starter",
        (C("Kai", "Mahoe", "Owner", "+1 (808) 555-0122"),),
        weight=1,
    ),
    Customer(
        "Foxglove Health Portal",
        "foxglovehealth",
        "US",
        "enterprise",
        (
            C("Dr. Renee", "Calloway", "Head of Product", "+1 (617) 555-0164"),
            C("Yusuf", "Demir", "Security Engineer", "+1 (617) 555-0139"),
        ),
        weight=3,
    ),
    Customer(
        "Lanternfish Labs",
        "lanternfish",
        "US",
        "growth",
        (C("Evan", "Roarke", "Founding Engineer", "+1 (503) 555-0181"),),
        platform=True,
        weight=3,
    ),
    Customer(
        "Tamarack Tax Prep",
        "tamarack",
        "US",
        "growth",
        (C("Beverly", "Stroud", "Finance Manager", "+1 (406) 555-0107"),),
    ),
    Customer(
        "Velvet Anvil Studios",
        "velvetanvil",
        "US",
        "starter",
        (C("Zoë", "Harrow", "Creative Director", "+1 (323) 555-0149"),),
        weight=1,
    ),
    Customer(
        "Paper Crane Travel",
        "papercrane",
        "US",
        "growth",
        (C("Min-jun", "Park", "Senior Developer", "+1 (425) 555-0192"),),
    ),
    Customer(
        "Drumlin Donations",
        "drumlin",
        "US",
        "growth",
        (C("Abigail", "Ferris", "Digital Fundraising Lead", "+1 (802) 555-0126"),),
    ),
    Customer(
        "Humblebee Pet Supply",
        "humblebee",
        "US",
        "starter",
        (C("Carla", "Benson", "Owner", "+1 (919) 555-0168"),),
        weight=1,
    ),
    Customer(
        "Kettle Creek Software",
        "kettlecreek",
        "US",
        "enterprise",
        (
            C("Devon", "Achebe", "Principal Engineer", "+1 (720) 555-0133"),
            C("Maggie", "Lorne", "IT Administrator", "+1 (720) 555-0175"),
        ),
        weight=3,
    ),
    Customer(
        "Maple & Moose Apparel",
        "maplemoose",
        "CA",
        "growth",
        (C("Émilie", "Tremblay", "E-commerce Manager", "+1 (514) 555-0118"),),
    ),
    Customer(
        "Northbeam Learning",
        "northbeam",
        "CA",
        "growth",
        (C("Arjun", "Khanna", "Backend Lead", "+1 (604) 555-0152"),),
    ),
    Customer(
        "Mühlbach Getränke GmbH",
        "muehlbach",
        "DE",
        "growth",
        (
            C("Katrin", "Weiß", "Leiterin Buchhaltung", "+49 30 23125 417"),
            C("Florian", "Brandt", "Softwareentwickler", "+49 30 23125 882"),
        ),
    ),
    Customer(
        "Kranichfeld Reisen",
        "kranichfeld",
        "DE",
        "growth",
        (C("Sebastian", "Köhler", "IT-Leiter", "+49 30 23125 130"),),
    ),
    Customer(
        "Lindenhof Software GmbH",
        "lindenhof",
        "DE",
        "enterprise",
        (
            C("Jana", "Richter", "Teamlead Payments", "+49 30 23125 604"),
            C("Malte", "Hoffmann", "DevOps Engineer", "+49 30 23125 271"),
        ),
        platform=True,
        weight=3,
    ),
    Customer(
        "Café Lumière",
        "cafelumiere",
        "FR",
        "starter",
        (C("Élodie", "Marchand", "Gérante", "+33 1 99 00 41 27"),),
        weight=1,
    ),
    Customer(
        "Maison Vérel",
        "maisonverel",
        "FR",
        "growth",
        (C("Thibault", "Garnier", "Responsable e-commerce", "+33 1 99 00 63 15"),),
    ),
    Customer(
        "Atelier Sablé",
        "ateliersable",
        "FR",
        "starter",
        (C("Inès", "Lefèvre", "Fondatrice", "+33 1 99 00 88 02"),),
        weight=1,
    ),
    Customer(
        "Dijkstra Fietsen B.V.",
        "dijkstrafietsen",
        "NL",
        "growth",
        (C("Sanne", "de Vries", "Webshop Manager"),),
    ),
    Customer(
        "Tulpveld Media",
        "tulpveld",
        "NL",
        "starter",
        (C("Ruben", "Bakker", "Developer"),),
        weight=1,
    ),
    Customer(
        "Olivar de la Peña",
        "olivarpena",
        "ES",
        "starter",
        (C("Lucía", "Navarro", "Administración"),),
        weight=1,
    ),
    Customer(
        "Señal Móvil SL",
        "senalmovil",
        "ES",
        "growth",
        (C("Javier", "Ortiz", "Responsable de Sistemas"),),
    ),
    Customer(
        "Trattoria Gialla Online",
        "trattoriagialla",
        "IT",
        "starter",
        (C("Giulia", "Romano", "Titolare"),),
        weight=1,
    ),
    Customer(
        "Björkstigen Design AB",
        "bjorkstigen",
        "SE",
        "growth",
        (C("Linnea", "Sjöberg", "Tech Lead"),),
    ),
    Customer(
        "Brøndal Cykler ApS",
        "brondal",
        "DK",
        "starter",
        (C("Mads", "Sørensen", "Indehaver"),),
        weight=1,
    ),
    Customer(
        "Fjordlys Energi AS",
        "fjordlys",
        "NO",
        "enterprise",
        (
            C("Ingrid", "Haugen", "Systemarkitekt"),
            C("Eirik", "Nygård", "Utvikler"),
        ),
    ),
    Customer(
        "Revontuli Games Oy",
        "revontuli",
        "FI",
        "growth",
        (C("Aleksi", "Virtanen", "Lead Engineer"),),
    ),
    Customer(
        "Almhütte Tickets",
        "almhuette",
        "AT",
        "starter",
        (C("Lukas", "Gruber", "Geschäftsführer"),),
        weight=1,
    ),
    Customer(
        "Gletscher Uhren AG",
        "gletscher",
        "CH",
        "enterprise",
        (C("Reto", "Zimmermann", "Head of Digital"),),
    ),
    Customer(
        "Ōtsuki Stationery KK",
        "otsuki",
        "JP",
        "growth",
        (
            C("Haruka", "Ōtsuki", "EC担当 / E-commerce Manager"),
            C("Kenji", "Mori", "Engineer"),
        ),
    ),
    Customer(
        "Sakuragi Ramen Delivery", "sakuragi", "JP", "growth", (C("Yuto", "Sakuragi", "CTO"),)
    ),
    Customer(
        "Kumo Ticket Japan",
        "kumoticket",
        "JP",
        "enterprise",
        (C("Rina", "Hasegawa", "Payments Lead"),),
        platform=True,
    ),
    Customer(
        "Hanbit Beauty Co.",
        "hanbitbeauty",
        "KR",
        "growth",
        (C("Seo-yeon", "Lim", "Platform Developer"),),
    ),
    Customer(
        "Wattle & Wren Homewares",
        "wattlewren",
        "AU",
        "growth",
        (C("Bronwyn", "Keats", "Operations Manager", "+61 491 570 156"),),
    ),
    Customer(
        "Bilby Bikes",
        "bilbybikes",
        "AU",
        "starter",
        (C("Lachlan", "Doyle", "Owner", "+61 491 570 737"),),
        weight=1,
    ),
    Customer(
        "Kererū Coffee Roasters",
        "kereru",
        "NZ",
        "starter",
        (C("Aroha", "Ngata", "Owner"),),
        weight=1,
    ),
    Customer(
        "Peranakan Prints Pte Ltd",
        "peranakanprints",
        "SG",
        "growth",
        (C("Wei Ling", "Tan", "Head of Technology"),),
    ),
)


# --- topics ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cause:
    """One scenario of a topic: what the customer reports, why it happened, how it was fixed."""

    root_cause: str
    resolution: str
    runbooks: tuple[str, ...] = ()
    # Scenario-specific prose; the topic's own pools hold what fits every scenario.
    titles: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    escalations: tuple[str, ...] = ()
    # Hint for the topic's evidence function (which log or trace this scenario produces).
    evidence: str = ""
    # The scenario only occurs for cases created inside this interval (an incident, a release).
    available_from: datetime | None = None
    available_until: datetime | None = None
    # Cases of this scenario cannot be resolved before this moment (they wait for a fix).
    not_before: datetime | None = None


@dataclass(frozen=True)
class Topic:
    """One underlying problem: many tickets, written differently, sharing error signatures."""

    key: str
    queue: str
    product: str
    component: str
    count: int
    priorities: tuple[str, ...]
    tags: tuple[str, ...]
    runbooks: tuple[str, ...]
    titles: tuple[str, ...]
    vague: tuple[str, ...]
    reports: tuple[str, ...]
    details: tuple[str, ...]
    escalations: tuple[str, ...]
    causes: tuple[Cause, ...]
    evidence: Callable[[Ctx], str]
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    window: tuple[datetime, datetime] | None = None
    # (start, share of the topic's cases, regions hit or () for all); the rest follow `window`.
    bursts: tuple[tuple[datetime, float, tuple[str, ...]], ...] = ()
    countries: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    platforms_only: bool = False
    # Weights of the styles vague / email / form / escalation.
    styles: tuple[int, int, int, int] = (18, 42, 25, 15)
    gap: bool = False
    spike: bool = False
    # Spike topics ramp up over their window instead of being spread evenly.
    ramp: bool = False
    # Scales time to resolve (a known problem with a canned answer is closed faster).
    resolve_factor: float = 1.0


class Ctx:
    """Per-case values and randomness shared by the evidence and prose of one ticket."""

    def __init__(self, rng: random.Random, created: datetime, values: dict[str, str]) -> None:
        self.rng = rng
        self.created = created
        self.values = values
        # One offset per case keeps log lines in the order their minutes say.
        self.jitter = timedelta(seconds=rng.randrange(5, 55))

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def __setitem__(self, key: str, value: str) -> None:
        self.values[key] = value

    def pick(self, options: Sequence[str]) -> str:
        """One of `options`, uniformly."""
        return options[self.rng.randrange(len(options))]

    def pick_text(self, options: Sequence[str]) -> str:
        """One template whose placeholders all have values (e.g. no "call me" without a phone)."""
        usable = [o for o in options if all(self.values.get(n) for n in _PLACEHOLDER.findall(o))]
        return self.pick(usable or options)

    def chance(self, p: float) -> bool:
        """True with probability `p`."""
        return self.rng.random() < p

    def b62(self, n: int) -> str:
        """Random base62 string, the alphabet of Ledgerline object ids."""
        return "".join(B62[self.rng.randrange(62)] for _ in range(n))

    def hex(self, n: int) -> str:
        """Random lowercase hex string."""
        return "".join("0123456789abcdef"[self.rng.randrange(16)] for _ in range(n))

    def at(self, minutes_before: float) -> datetime:
        """A moment shortly before the ticket was filed (logs precede tickets)."""
        moment = self.created - timedelta(minutes=minutes_before) - self.jitter
        return moment.replace(microsecond=0)

    def iso(self, minutes_before: float, millis: bool = True) -> str:
        """`at()` as an ISO timestamp with Z; lines meant to be ordered sit >= 1.2 s apart."""
        moment = self.at(minutes_before)
        if millis:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.rng.randrange(1000):03d}Z"
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def epoch(self, minutes_before: float) -> int:
        """`at()` as Unix seconds, as signature headers and tokens carry it."""
        return int(self.at(minutes_before).timestamp())

    def fill(self, template: str) -> str:
        """Replace `{name}` placeholders; unknown names are a bug in the templates."""
        return _PLACEHOLDER.sub(lambda m: self.values[m.group(1)], template)


_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_LIST_LINE = re.compile(r"^(\s*[-*•]\s|\s*\d+[.)]\s|\s{4})")


def prose(text: str) -> str:
    """Unwrap hard-wrapped template paragraphs; list items and indented lines keep their breaks."""
    out = []
    for para in textwrap.dedent(text).strip("\n").split("\n\n"):
        lines = para.split("\n")
        if _LIST_LINE.match(lines[0]):
            out.append("\n".join(line.rstrip() for line in lines))
        else:
            out.append(" ".join(line.strip() for line in lines if line.strip()))
    return "\n\n".join(out)


def money(minor: int, currency: str) -> str:
    """Format an amount given in minor units the way a person would write it."""
    symbol = CURRENCY_SYMBOL[currency]
    if currency in ZERO_DECIMAL:
        return f"{symbol}{minor:,}"
    return f"{symbol}{minor / 100:,.2f}"


def jwt_like(rng: random.Random, subject: str, issued_at: int) -> str:
    """A realistic-looking (unsigned, fake) JWT, the kind engineers paste in curl commands."""

    def part(payload: dict[str, Any]) -> str:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    head = part(
        {"alg": "RS256", "kid": f"ll-{rng.randrange(2024, 2027)}-{rng.randrange(1, 13):02d}"}
    )
    body = part({"sub": subject, "scope": "read_write", "iat": issued_at, "exp": issued_at + 3600})
    sig = "".join(rng.choice(B62 + "-_") for _ in range(43))
    return f"{head}.{body}.{sig}"


# --- topics: payments --------------------------------------------------------------------------
IDEMPOTENCY_MSG = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with."
)


def ev_idempotency(c: Ctx) -> str:
    """409 responses, SDK traces or app logs showing ERR_IDEMPOTENCY_KEY_REUSED."""
    key = c.pick((f"order-{c['order']}", f"cart_{c['order']}_checkout", f"pay-{c['order']}-1"))
    if c["scenario"] == "per-process":
        key = c["uuid"]
    form = c.rng.randrange(3)
    if c["scenario"] == "per-process" or form == 1:
        return (
            "Traceback (most recent call last):\n"
            '  File "/srv/checkout/payments/gateway.py", line 141, in create_intent\n'
            "    return ledgerline.PaymentIntent.create(\n"
            "        idempotency_key=IDEMPOTENCY_KEY, **params)\n"
            '  File "/usr/local/lib/python3.11/site-packages/ledgerline/_api_requestor.py", '
            "line 388, in _interpret_response\n"
            "    raise self._specific_error(rbody, rcode, resp, rheaders)\n"
            f"ledgerline.error.IdempotencyError: Request {c['req']}: ERR_IDEMPOTENCY_KEY_REUSED: "
            f"{IDEMPOTENCY_MSG}"
        )
    if form == 0:
        path = (
            f"/v1/payment_intents/{c['pi']}/confirm"
            if c["scenario"] == "create-confirm"
            else "/v1/payment_intents"
        )
        return (
            f"POST {path} -> 409 Conflict\n"
            f"Request-Id: {c['req']}\n"
            f"Idempotency-Key: {key}\n\n"
            '{"error": {"type": "idempotency_error", "code": "ERR_IDEMPOTENCY_KEY_REUSED", '
            f'"message": "{IDEMPOTENCY_MSG}"}}}}'
        )
    lines = []
    for i in range(c.rng.randrange(2, 5)):
        order = int(c["order"]) + i * c.rng.randrange(3, 40)
        rid = c["req"] if i == 0 else "req_" + c.b62(14)
        lines.append(
            f"{c.iso(90 - i * 17)} ERROR {c['host']} payment.create failed order={order} "
            f"idempotency_key=order-{order} status=409 code=ERR_IDEMPOTENCY_KEY_REUSED "
            f"request_id={rid}"
        )
    return "\n".join(lines)


IDEMPOTENCY = Topic(
    key="idempotency-key-reused",
    queue="payments-api",
    product="Payments API",
    component="idempotency",
    count=12,
    priorities=("P2", "P3", "P3", "P3"),
    tags=("idempotency", "http-409"),
    runbooks=("payments/idempotency-key-reused",),
    titles=(
        "409 ERR_IDEMPOTENCY_KEY_REUSED when creating payment intents",
        "Intermittent 409 Conflict on checkout",
        "'Keys for idempotent requests can only be used with the same parameters'",
        "Random 409s from the payments API",
        "What does ERR_IDEMPOTENCY_KEY_REUSED mean?",
    ),
    vague=(
        """
        hi, some of our checkouts fail with a 409 error since this morning. nothing changed on our
        side (i think). can you check??
        """,
        """
        Customers can't complete payment, we see 'idempotency' errors in the logs. Please help asap
        """,
        """
        getting conflict errors on payments, roughly 1 in 20 orders. what does
        ERR_IDEMPOTENCY_KEY_REUSED mean and how do we make it stop
        """,
    ),
    reports=(
        """
        One of our customers tried to pay for order #{order} three times and every attempt failed
        with a 409. Our logs say ERR_IDEMPOTENCY_KEY_REUSED. She ended up buying elsewhere. We
        need to understand what is happening before this costs us more orders.
        """,
        """
        A small share of our payment requests fail with HTTP 409 and the code
        ERR_IDEMPOTENCY_KEY_REUSED since {day}. We haven't found a pattern yet. What exactly does
        the API compare?
        """,
    ),
    details=(
        "We use ledgerline-python {py_sdk} on the backend.",
        "Rolling back is possible but we'd rather understand the problem first.",
    ),
    escalations=(),
    causes=(
        Cause(
            "Idempotency-Key derived from the order id while the cart amount could still change "
            "(discount applied after the first attempt), so the retry had different parameters.",
            "Explained the 24h key fingerprint. Customer now generates a UUID per payment "
            "attempt and stores it with the order; no 409s since their deploy.",
            titles=("Idempotency error after customer applies a coupon",),
            reports=(
                """
                Since {day} a small share of our payment intent creations fail with HTTP 409 and
                the code ERR_IDEMPOTENCY_KEY_REUSED. It's maybe 3-5% of orders. We send the order
                id as the Idempotency-Key, like the docs suggest, so I don't understand why the
                parameters would be different.
                """,
                """
                We get 409 responses when customers apply a discount code after a first failed
                payment attempt and then pay again. Before the code is applied it works,
                afterwards we get ERR_IDEMPOTENCY_KEY_REUSED. Is the key tied to the amount?
                """,
            ),
            details=("Our keys look like order-<order id>, one per order.",),
            escalations=(
                """
                Customer uses the order id as Idempotency-Key. `ll idempotency show` for the key
                of order {order}: first request amount {amount}, rejected request a lower amount
                (discount applied in between). Need payments-api to confirm the fingerprint
                behaviour so we can explain it; customer thinks the key should "just return the
                order".
                """,
            ),
        ),
        Cause(
            "Retry middleware reused the key but rebuilt the body with a new timestamp in "
            "metadata, so the parameters no longer matched the first request.",
            "Customer moved the timestamp out of metadata and now re-sends the original "
            "serialized body on retry. Confirmed no further ERR_IDEMPOTENCY_KEY_REUSED.",
            titles=("ERR_IDEMPOTENCY_KEY_REUSED since our last deploy",),
            reports=(
                """
                Our retry middleware re-sends failed POSTs with the same Idempotency-Key (that's
                the whole point of it, right?). But after a timeout the retry gets rejected with a
                409 instead of returning the original result. Example request: {req}.
                """,
                """
                We deployed a new version of our payment service on {day} and since then retries
                after network errors fail with ERR_IDEMPOTENCY_KEY_REUSED. We didn't touch the
                retry logic.
                """,
            ),
            details=(
                """
                The only change in the deploy was adding a timestamp to the metadata so finance
                can match payments to orders.
                """,
                "I compared the amounts of both requests and as far as I can tell they are the "
                "same.",
            ),
            escalations=(
                """
                Customer sees ERR_IDEMPOTENCY_KEY_REUSED on retries. I pulled {req} and the
                earlier request with the same key: the amount is identical but the metadata
                differs (a timestamp that changes on every retry). Customer insists it's our bug
                because "the payment is the same". Need payments-api to confirm that the
                fingerprint covers metadata and help with the reply.
                """,
            ),
        ),
        Cause(
            "Idempotency key generated once per worker process (module-level uuid4) and reused "
            "for every payment from that worker.",
            "Pointed them to the module-level key in their payments client; fix deployed to "
            "generate the key per request. No duplicate charges resulted, nothing to refund.",
            reports=(
                """
                We're seeing ERR_IDEMPOTENCY_KEY_REUSED on payment intent creation from our Python
                workers. Odd detail: it only happens on workers that have been running for a
                while. Right after a restart everything is fine for a few minutes, then the 409s
                start again.
                """,
            ),
            escalations=(
                """
                L1 couldn't explain the 409s. `ll idempotency show` lists the same key on 30+
                payment intents over two hours, for different customers. Looks like the key is
                generated once per process on their side, but the customer wants confirmation
                from engineering before they touch their payments code.
                """,
            ),
            evidence="per-process",
        ),
        Cause(
            "Create and confirm calls shared one Idempotency-Key.",
            "Advised a separate key per operation; customer patched the confirm step and "
            "verified in test mode.",
            reports=(
                """
                We create a payment intent and then confirm it in a second call once the buyer
                clicks pay. The confirm call fails with 409 ERR_IDEMPOTENCY_KEY_REUSED. We pass
                the same idempotency key to both calls because they belong to the same payment.
                """,
            ),
            evidence="create-confirm",
        ),
    ),
    evidence=ev_idempotency,
)


def ev_declines(c: Ctx) -> str:
    """Decline responses, dashboard CSV rows or app logs with card_declined codes."""
    codes = {
        "issuer": ("do_not_honor", "do_not_honor", "generic_decline"),
        "testing": ("incorrect_cvc", "card_declined", "generic_decline"),
        "genuine": ("insufficient_funds", "generic_decline"),
        "test-card": ("test_card_in_live_mode",),
        "retries": ("do_not_honor", "insufficient_funds"),
    }[c["scenario"]]
    code = c.pick(codes)
    form = c.rng.randrange(3)
    if c["scenario"] in {"test-card", "genuine"} or form == 0:
        return (
            f"HTTP 402 (request {c['req']})\n"
            '{"error": {"type": "card_error", "code": "card_declined", '
            f'"decline_code": "{code}", "message": "Your card was declined.", '
            f'"payment_intent": {{"id": "{c["pi"]}", "status": "requires_payment_method"}}}}}}'
        )
    if form == 1:
        rows = ["created,amount,currency,status,decline_code,card_brand,issuer_country"]
        for i in range(c.rng.randrange(4, 8)):
            amount = (
                c.rng.randrange(100, 200)
                if c["scenario"] == "testing"
                else c.rng.randrange(900, 19900)
            )
            rows.append(
                f"{c.iso(300 - i * 23, millis=False)},{amount / 100:.2f},"
                f"{c['cur']},failed,{c.pick(codes)},{c.pick(('visa', 'mastercard', 'visa'))},"
                f"{c.pick(('GB', 'GB', 'US', 'DE', 'FR'))}"
            )
        return "Export from the dashboard (payments, last few hours):\n" + "\n".join(rows)
    return (
        f"{c.iso(12)} WARN checkout-api [{c['host']}] charge declined "
        f"pi={c['pi']} amount={c['amount_minor']} {c['cur']} "
        f"card_declined: {code} request_id={c['req']}\n"
        f"{c.iso(9)} WARN checkout-api [{c['host']}] charge declined "
        f"pi={c['pi2']} amount={c['amount2_minor']} {c['cur']} "
        f"card_declined: {c.pick(codes)} request_id={c['req2']}"
    )


CARD_DECLINES = Topic(
    key="card-declines",
    queue="payments-api",
    product="Payments API",
    component="authorizations",
    count=14,
    priorities=("P2", "P2", "P3", "P3", "P4"),
    tags=("declines", "card-errors"),
    runbooks=("payments/card-declines",),
    titles=(
        "Lots of declined payments today",
        "Payments failing since this morning!!",
        "Decline rate much higher than usual",
        "Question about generic_decline vs do_not_honor",
    ),
    vague=(
        """
        payments failing since this morning!! customers keep telling us their card is declined
        but it works everywhere else. what is going on
        """,
        "Is something wrong with Ledgerline today? We have way more declined cards than normal.",
        """
        Hi, our customers are getting 'Your card was declined'. Can you fix this please, we are
        losing sales
        """,
        "Why are so many cards being declined today?? Sales are way down.",
    ),
    reports=(),
    details=(
        "Radar is on with the default rules, we didn't add any of our own.",
        "We can send a CSV of the affected orders if that helps, there are {count} of them.",
        "Our checkout shows the raw decline message to the buyer, maybe that's not ideal either.",
    ),
    escalations=(),
    causes=(
        Cause(
            "Issuer-side: a large UK issuer returned do_not_honor for part of its card-not-present "
            "traffic after a fraud-rule change on their side; not a Ledgerline fault.",
            "Shared the decline breakdown by issuer. Rates recovered the next day when the issuer "
            "rolled back. Advised against automatic retries on do_not_honor.",
            titles=(
                "Authorization rate dropped from {pct_high} to {pct_low}",
                "do_not_honor declines spiking on UK cards",
            ),
            reports=(
                """
                Our authorization rate dropped from about {pct_high} to {pct_low} {when}. The
                declines are almost all card_declined with decline_code do_not_honor, and a lot of
                them seem to be UK-issued cards. Nothing changed in our integration. Can you check
                whether there is a problem with an issuer or on your acquiring side?
                """,
            ),
            details=("We don't retry declined payments automatically.",),
            escalations=(
                """
                Customer reports an authorization rate drop. Decline breakdown for the last 3
                days: do_not_honor share up from 6% to 31%, concentrated on two UK BIN ranges;
                other accounts on the same issuer show the same pattern. Could be issuer-side.
                Looping in payments-api to check acquirer health before we answer.
                """,
            ),
            evidence="issuer",
        ),
        Cause(
            "Card testing attack on the checkout form (many small attempts from rotating IPs); "
            "the declines were issuers correctly rejecting stolen cards.",
            "Helped enable CAPTCHA and a Radar rule limiting attempts per IP and card "
            "fingerprint; account-ops reviewed the account. Attempts stopped within a day.",
            titles=("Hundreds of tiny declined payments overnight",),
            reports=(
                """
                Overnight we received a huge number of tiny payments (1-2 {currency}) on our
                donation page, almost all declined with incorrect_cvc or card_declined. We did not
                run any campaign. Is someone abusing our form?
                """,
            ),
            escalations=(
                """
                Possible card testing: {count} attempts in 4 hours, 92% declined, amounts under
                2.00, ~40 distinct IPs. Customer wants to know whether they pay fees for declined
                attempts and how to stop it.
                """,
            ),
            evidence="testing",
        ),
        Cause(
            "Genuine insufficient_funds / generic_decline answers from the buyers' banks; nothing "
            "wrong on the platform side.",
            "Explained the decline codes and that buyers must contact their bank; shared better "
            "wording for the checkout error message.",
            titles=("card_declined insufficient_funds for a customer who has money",),
            reports=(
                """
                A customer's card ({card}) was declined three times in a row with
                insufficient_funds. She says there is money on the account and the card works in
                other shops. Can you see why the bank declined it?
                """,
                """
                We launched our German storefront on {day} and the decline rate there is higher
                than at home. Most failures are generic_decline or insufficient_funds. Is there
                something about German cards we're missing?
                """,
            ),
            evidence="genuine",
        ),
        Cause(
            "Test card used in live mode (card_declined: test_card_in_live_mode).",
            "Explained the separation of test and live mode; customer now runs the production "
            "smoke test with a real low-value card.",
            ("payments/test-vs-live-mode",),
            titles=("Card declined in live mode, works in test",),
            reports=(
                """
                Developer here. In live mode our smoke test with card {card} fails with
                card_declined. In test mode the same flow works fine. Did we misconfigure
                something on the account?
                """,
            ),
            evidence="test-card",
        ),
        Cause(
            "Hourly retry job re-attempted insufficient_funds declines up to 24 times a day, which "
            "triggered issuer velocity blocks (do_not_honor).",
            "Customer changed the retry policy to once a day with at most 4 attempts; decline "
            "rate back to normal the following week.",
            titles=("Subscription renewals declined much more often",),
            reports=(
                """
                Our subscription renewals have a much higher failure rate this month, mostly
                insufficient_funds and lately do_not_honor. We retry failed renewals every hour
                until they succeed. Is there a limit on retries we should know about?
                """,
            ),
            evidence="retries",
        ),
    ),
    evidence=ev_declines,
    values={
        "pct_high": ("92%", "89%", "94%", "90%"),
        "pct_low": ("71%", "64%", "77%", "58%"),
    },
)


def ev_duplicates(c: Ctx) -> str:
    """Two succeeded payment intents for one order, or the retry that caused them."""
    if c["scenario"] == "timeout" and c.chance(0.6):
        return (
            f"{c.iso(65)} INFO  orders [{c['host']}] creating payment for order {c['order']}\n"
            f"{c.iso(64.5)} ERROR orders [{c['host']}] ledgerline request failed: "
            "cURL error 28: Operation timed out after 30001 milliseconds with 0 bytes received\n"
            f"{c.iso(64.4)} INFO  orders [{c['host']}] retrying (attempt 2/3)\n"
            f"{c.iso(64)} INFO  orders [{c['host']}] payment {c['pi2']} succeeded for order "
            f"{c['order']}"
        )
    if c["scenario"] == "timeout":
        return (
            f"Request 1: {c['req']}  POST /v1/payment_intents  200  34.2s  "
            "Idempotency-Key: (none)\n"
            f"Request 2: {c['req2']}  POST /v1/payment_intents  200  1.1s   "
            "Idempotency-Key: (none)"
        )
    gap = {"retry-keys": 31, "double-click": 0.9, "webhook": 11}.get(c["scenario"], 30)
    return (
        f"{c['pi']}  {c['amount']}  succeeded  {c.iso(48, millis=False)}  {c['cus']}\n"
        f"{c['pi2']}  {c['amount']}  succeeded  {c.iso(48 - gap / 60, millis=False)}  {c['cus']}\n"
        f"(order #{c['order']}, only one order in our system)"
    )


DUPLICATE_CHARGES = Topic(
    key="duplicate-charges",
    queue="payments-api",
    product="Payments API",
    component="payment intents",
    count=10,
    priorities=("P1", "P2", "P2", "P2", "P3"),
    tags=("duplicates", "retries", "refunds"),
    runbooks=("payments/duplicate-charges", "payments/idempotency-key-reused"),
    titles=(
        "Customer charged twice for one order",
        "Duplicate payments, several customers complaining",
        "Two identical charges of {amount}",
        "URGENT: we are double charging customers",
    ),
    vague=(
        """
        We are getting complaints that people get charged twice!!! Please check urgently, this is
        really bad for us.
        """,
        """
        hi a customer says she paid twice for the same order, we only see one order. how can this
        happen?
        """,
        "my customer says she was charged 2x for the same thing, please check and refund one",
    ),
    reports=(
        """
        Three customers contacted us today saying they were charged twice. In each case we see
        two successful payment intents ({pi} and {pi2}) for the same amount, {amount}, but only
        one order in our system.
        """,
    ),
    details=("We've refunded the ones we know about by hand but we need a complete list.",),
    escalations=(),
    causes=(
        Cause(
            "Merchant backend retried POST /v1/payment_intents after its 30s client timeout, "
            "without an Idempotency-Key, while the first request was still processing; both "
            "succeeded.",
            "Merchant refunded the duplicates using the affected-buyer query we provided. Client "
            "now sends one idempotency key per order attempt and uses a 90s timeout.",
            titles=("Double charges after checkout timeout", "Buyers billed twice since Friday"),
            reports=(
                """
                After our hosting provider had network problems on {day} we see a wave of
                duplicate payments. It looks like our job queue retried the "create payment" task
                after a timeout and both attempts went through.
                """,
                """
                We run ticket sales and during this morning's on-sale some buyers were charged two
                or three times for the same basket. Our API calls were very slow at the time.
                We're still counting but at least {count} buyers are affected. Please help us find
                all of them.
                """,
            ),
            details=(
                "We are not sending an Idempotency-Key header, we didn't know it was needed.",
                "Our PHP client has a 30s timeout because the SDK default seemed too long.",
            ),
            escalations=(
                """
                Customer has {count} duplicate payments. Both requests of each pair have no
                Idempotency-Key and the first one took ~34 s (latency spike during their batch);
                their client timeout is 30 s. Need payments-api to confirm nothing wrong on our
                side and help with the affected-buyer query. Customer also asks for the fees on
                the refunds back.
                """,
            ),
            evidence="timeout",
        ),
        Cause(
            "Retry loop generated a new idempotency key on each attempt, so retries after "
            "timeouts created new payments.",
            "Customer moved key generation outside the retry loop and refunded {count} duplicate "
            "charges.",
            details=("We do send an idempotency key, a new UUID every time the request is made.",),
            escalations=(
                """
                Double charges reported. Checked two pairs: a different Idempotency-Key on every
                attempt (they generate uuid4 inside the retry loop). Customer is upset and wants
                to speak to someone senior.
                """,
            ),
            evidence="retry-keys",
        ),
        Cause(
            "Front end did not disable the Pay button; double clicks sent two requests with "
            "different keys.",
            "Customer now disables the button on submit and derives the key from the checkout "
            "session; duplicates refunded.",
            reports=(
                """
                A customer got charged {amount} twice for order #{order}, both payments less than
                a second apart. I think he double clicked the pay button. Shouldn't your system
                prevent that?
                """,
            ),
            evidence="double-click",
        ),
        Cause(
            "Webhook handler created a payment on every delivery of the same checkout event "
            "(duplicate deliveries after slow responses).",
            "Handler now records processed event ids and answers within the timeout; duplicates "
            "refunded.",
            ("webhook-event-ordering",),
            details=("Our fulfilment creates the payment from a webhook handler.",),
            evidence="webhook",
        ),
    ),
    evidence=ev_duplicates,
)


def ev_refunds(c: Ctx) -> str:
    """Refund errors, failed refunds, pending refund lists or a succeeded refund's ARN."""
    scenario = c["scenario"]
    if scenario in {"too-old", "after-payout"}:
        code = "charge_too_old" if scenario == "too-old" else "insufficient_balance_for_refund"
        message = {
            "charge_too_old": f"Charge {c['ch']} is too old to be refunded (180 day limit).",
            "insufficient_balance_for_refund": (
                "Your available balance is insufficient to cover this refund."
            ),
        }[code]
        return (
            f"POST /v1/refunds (request {c['req']})\n"
            '{"error": {"type": "invalid_request_error", '
            f'"code": "refund_failed: {code}", "message": "{message}"}}}}'
        )
    if scenario == "card-closed":
        return (
            f"{c['re']}\n"
            f"  amount: {c['amount']}\n"
            "  status: failed\n"
            "  failure_reason: expired_or_canceled_card\n"
            f"  charge: {c['ch']}\n"
            f"  created: {c.iso(60 * 24 * 3, millis=False)}"
        )
    if scenario == "negative-balance":
        return (
            "Refund ID                        Amount      Status    Created\n"
            f"{c['re']}  {c['amount']}  pending   {c.iso(60 * 24 * 6, millis=False)}\n"
            f"re_{c.b62(24)}  {c['amount2']}  pending   {c.iso(60 * 24 * 5.9, millis=False)}\n"
            f"re_{c.b62(24)}  {c['amount']}  pending   {c.iso(60 * 24 * 5, millis=False)}"
        )
    return (
        f"{c['re']}  {c['amount']}  succeeded  {c.iso(60 * 24 * 14, millis=False)}\n"
        f"  acquirer_reference_number: 7{c.rng.randrange(10**21):021d}"
    )


REFUNDS = Topic(
    key="refund-failures",
    queue="payments-api",
    product="Payments API",
    component="refunds",
    count=11,
    priorities=("P3", "P3", "P2", "P4"),
    tags=("refunds",),
    runbooks=("payments/refund-failures",),
    titles=("Refund problem", "Issue with refunds", "Refund not going through"),
    vague=(
        "My customer is still waiting for her refund from 2 weeks ago. Where is the money?",
        "refunds not working!! we click refund and nothing happens",
        "Hello, a refund we made last week still hasn't reached the customer. Can you check "
        "what's going on?",
    ),
    reports=(),
    details=(
        "We create refunds through the API, nothing fancy.",
        "This is the third time this month.",
    ),
    escalations=(),
    causes=(
        Cause(
            "Charge was older than the 180-day card refund window (refund_failed: charge_too_old).",
            "Explained the window; customer refunded the buyer by bank transfer outside "
            "Ledgerline.",
            titles=("Refund failed: charge_too_old", "Can't refund a payment from March"),
            reports=(
                """
                We're trying to refund charge {ch} ({amount}) and the API answers refund_failed:
                charge_too_old. The purchase is about seven months old, but the customer only
                returned the item now under our extended warranty. How can we refund them?
                """,
            ),
            evidence="too-old",
        ),
        Cause(
            "Available balance was negative after a batch of recall refunds, so new refunds "
            "stayed pending until incoming funds covered them.",
            "Customer topped up the balance with Add funds and the pending refunds went out the "
            "same day. Suggested enabling refunds from bank account.",
            ("payouts/payout-delays-and-reserves",),
            titles=("Refunds stuck in pending for a week",),
            reports=(
                """
                Since {day} our refunds stay in "pending". We issued {count} refunds after a
                product recall and none of them have gone through. The dashboard shows our
                available balance as negative, could that be related?
                """,
            ),
            details=("We'd prefer not to top up the balance by hand every time this happens.",),
            escalations=(
                """
                Customer has {count} refunds pending for 6+ days. Balance negative since their
                recall (refunds exceed incoming volume). Can payments confirm whether we can
                enable refunds from bank account for them? {plan} account with a long clean
                history.
                """,
            ),
            evidence="negative-balance",
        ),
        Cause(
            "Refund had succeeded; the buyer's issuer had not posted it yet.",
            "Sent the ARN for the buyer's bank; buyer confirmed the credit a few days later.",
            titles=("Customer says refund never arrived",),
            reports=(
                """
                We refunded order #{order} ({amount}) on {date_prev} and the dashboard says
                Succeeded, but the customer insists nothing arrived on her card and is threatening
                a chargeback. What can we give her to prove the refund was made?
                """,
            ),
            escalations=(
                """
                Refund succeeded on our side (ARN available) but the buyer's bank says nothing
                arrived after 12 business days. Customer wants something like a bank statement as
                proof. What can we provide beyond the ARN?
                """,
            ),
            evidence="succeeded",
        ),
        Cause(
            "Buyer's card was closed and replaced, so the refund failed "
            "(expired_or_canceled_card) and the funds returned to the merchant balance.",
            "Merchant refunded the buyer by bank transfer; explained that failed refunds return "
            "to the balance.",
            titles=("Refund status failed - expired_or_canceled_card",),
            reports=(
                """
                Refund {re} shows status failed with failure_reason expired_or_canceled_card. Did
                the money go back to our balance? What should we do now for the customer?
                """,
            ),
            evidence="card-closed",
        ),
        Cause(
            "Automated refunds ran right after the payout emptied the available balance "
            "(insufficient_balance_for_refund).",
            "Customer moved the refund job before the payout cut-off and keeps a minimum balance.",
            titles=(
                "insufficient_balance_for_refund when refunding an order",
                "Refunds failing right after payout",
            ),
            reports=(
                """
                Our automated refund job started failing with insufficient_balance_for_refund
                right after the weekly payout went out. Do refunds come out of the same balance as
                payouts?
                """,
            ),
            evidence="after-payout",
        ),
    ),
    evidence=ev_refunds,
)


def ev_3ds(c: Ctx) -> str:
    """Payment intents stuck in requires_action or failing authentication."""
    if c["scenario"] == "off-session":
        return (
            f"{c.iso(30)} ERROR renewals [{c['host']}] renewal failed sub={c['sub']} "
            f"pi={c['pi']} error=card_declined decline_code=authentication_required "
            f"off_session=true request_id={c['req']}\n"
            f"{c.iso(29)} ERROR renewals [{c['host']}] renewal failed sub=sub_{c.b62(14)} "
            f"pi={c['pi2']} error=card_declined decline_code=authentication_required "
            f"off_session=true request_id={c['req2']}"
        )
    if c["scenario"] == "issuer":
        return (
            f"GET /v1/payment_intents/{c['pi']} (request {c['req']})\n"
            f'{{"id": "{c["pi"]}", "status": "requires_payment_method", '
            '"last_payment_error": {"code": "payment_intent_authentication_failure", '
            '"message": "The provided PaymentMethod has failed authentication.", '
            '"payment_method": {"card": {"three_d_secure": {"result": "failed"}}}}}'
        )
    return (
        f"POST /v1/payment_intents/{c['pi']}/confirm -> 200\n"
        '{"id": "' + c["pi"] + '", "status": "requires_action", "next_action": '
        '{"type": "redirect_to_url", "redirect_to_url": {"url": '
        f'"https://hooks.ledgerline.com/3ds2/authenticate/{c.b62(20)}"'
        "}}}\n"
        "-- 15 minutes later: status=canceled, cancellation_reason=abandoned"
    )


THREE_DS = Topic(
    key="3ds-authentication",
    queue="payments-api",
    product="Payments API",
    component="3D Secure",
    count=12,
    priorities=("P2", "P3", "P3"),
    tags=("3ds", "sca"),
    runbooks=("payments/3ds-authentication",),
    titles=(
        "3DS failures for EU customers",
        "SCA errors for European cards",
        "Payments failing authentication",
    ),
    vague=(
        """
        Our European customers can't pay anymore, it says authentication failed. US customers are
        fine.
        """,
        "hi, lots of payments stuck in 'requires action'?? what action? nobody told us",
        "Since last week a lot of card payments from Europe fail at the bank verification step. "
        "Please advise.",
    ),
    reports=(),
    details=("The 3DS test card {card} works fine in test mode.",),
    escalations=(),
    causes=(
        Cause(
            "Cards were saved without a SetupIntent for off-session use; renewals with "
            "off_session=true then required authentication the buyer could not complete.",
            "Customer now collects cards with SetupIntent usage=off_session and emails a payment "
            "link when authentication_required occurs.",
            titles=("authentication_required on subscription renewals",),
            reports=(
                """
                Our monthly renewals ({count} subscriptions) ran on {day} and about a third failed
                with authentication_required. They're all EU cards, saved last year through our
                old card form. What changed?
                """,
            ),
            details=("Can you just turn off 3DS for renewals? Our fraud rate is very low.",),
            evidence="off-session",
        ),
        Cause(
            "Server-side integration treated requires_action as a failure and never handled "
            "next_action.",
            "Customer implemented next_action handling in checkout; EU conversion back to the "
            "previous level within a week.",
            titles=(
                "Payments stuck in requires_action",
                "Conversion dropped after moving to Payment Intents",
            ),
            reports=(
                """
                We migrated from the Charges API to Payment Intents two weeks ago and our EU
                conversion dropped by roughly 15%. In the dashboard many payments sit in
                requires_action and then get canceled. We confirm the payment on the server side.
                """,
            ),
            details=("Backend is Python, card form is our own.",),
            escalations=(
                """
                Customer migrated to Payment Intents. Their server confirms with off_session=true
                even for first-time payments and treats requires_action as a failure. I explained
                next_action handling but they want payments-api to review the flow ({plan}, call
                with their CTO booked for Thursday).
                """,
            ),
            evidence="next-action",
        ),
        Cause(
            "Issuer ACS outage at a Dutch bank made challenges fail "
            "(three_d_secure.result=failed).",
            "Issuer recovered later that day; buyers could retry. No change needed on the "
            "integration.",
            titles=("payment_intent_authentication_failure on many payments",),
            reports=(
                """
                Some customers get the 3DS screen, approve in their banking app, come back and the
                payment fails with payment_intent_authentication_failure. Example: {pi}. It
                happens mostly with one Dutch bank.
                """,
            ),
            escalations=(
                """
                Cluster of payment_intent_authentication_failure for one NL issuer across 3
                accounts today (three_d_secure.result=failed). Might be issuer ACS trouble;
                please check before we reply to the customers.
                """,
            ),
            evidence="issuer",
        ),
        Cause(
            "Mobile app did not come back from the bank redirect (returnURL / URL scheme not "
            "configured), leaving payments in requires_action.",
            "Customer configured returnURL and the URL scheme in the iOS Checkout SDK; verified "
            "with test payments.",
            titles=("3D Secure page shows, then payment hangs",),
            reports=(
                """
                Our iOS app shows the 3D Secure page, but after the customer approves it in the
                bank app nothing happens and the payment stays in requires_action forever.
                """,
            ),
            evidence="next-action",
        ),
    ),
    evidence=ev_3ds,
)


def ev_zero_decimal(c: Ctx) -> str:
    """The request with a mis-scaled JPY/KRW amount, or amount_too_large."""
    cur = "krw" if c["scenario"] == "krw" else "jpy"
    price = int(c["zd_price_minor"])
    c["zd_price"] = money(price, cur)
    c["zd_x100"] = money(price * 100, cur)
    c["zd_div100"] = money(price // 100, cur)
    if c["scenario"] == "krw":
        return (
            f"HTTP 400 (request {c['req']})\n"
            '{"error": {"type": "invalid_request_error", "code": "amount_too_large", '
            '"message": "Amount must be no more than ₩999,999,999", "param": "amount"}}'
        )
    factor = 100 if c["scenario"] == "times-100" else 0.01
    return (
        f"POST /v1/payment_intents (request {c['req']})\n"
        f"  amount={round(int(c['zd_price_minor']) * factor)}\n"
        f"  currency={cur}\n"
        f"  metadata[order_id]={c['order']}\n"
        f"-> 200 succeeded {c['pi']}"
    )


ZERO_DECIMAL_AMOUNTS = Topic(
    key="zero-decimal-amounts",
    queue="payments-api",
    product="Payments API",
    component="currencies",
    count=7,
    priorities=("P2", "P2", "P3"),
    tags=("currency", "amounts", "jpy"),
    runbooks=("payments/currency-amounts",),
    titles=("Wrong amounts charged in yen", "Amount problem with Japanese payments"),
    vague=(
        "URGENT a customer was charged 100 times too much!! please refund it now",
        "金額がおかしいです / the amounts charged to our customers are wrong, please check asap",
        "Hi, our Japanese customers complain the charged amount is different from the price. "
        "urgent",
    ),
    reports=(),
    details=("How do we find every affected payment? There could be {count} or more.",),
    escalations=(),
    causes=(
        Cause(
            "Merchant multiplied JPY amounts by 100 as for two-decimal currencies; JPY is a "
            "zero-decimal currency.",
            "Shared the query of affected payments; merchant refunded the differences and now uses "
            "a currency exponent table.",
            titles=(
                "Japanese customers charged 100x the price",
                "Customer charged {zd_x100} instead of {zd_price}",
            ),
            reports=(
                """
                We launched our Japanese shop on {day}. A customer bought an item priced
                {zd_price} and was charged {zd_x100}. We convert every price to cents by
                multiplying by 100 before calling the API. Does JPY work differently?
                """,
            ),
            details=("We've already refunded the first customer who complained.",),
            escalations=(
                """
                Customer overcharged buyers 100x in JPY since their Japan launch ({count}
                payments). They need the list of affected payments and ask us to refund on their
                behalf; contact is not reachable by phone right now (JST night). Please advise.
                """,
            ),
            evidence="times-100",
        ),
        Cause(
            "Price refactor divided zero-decimal amounts by 100, undercharging buyers.",
            "Customer fixed the conversion and decided not to re-charge the affected buyers.",
            titles=(
                "JPY amounts wrong after refactoring",
                "Orders charged {zd_div100} instead of {zd_price}",
            ),
            reports=(
                """
                After refactoring our price handling, Japanese orders are charged far too little:
                {zd_div100} instead of {zd_price}. I think we now divide by 100 somewhere, but I
                want to understand what the API expects.
                """,
            ),
            evidence="div-100",
        ),
        Cause(
            "KRW amounts sent x100 as if KRW had minor units, exceeding the maximum "
            "(amount_too_large).",
            "Explained zero-decimal currencies; payments succeed after their fix.",
            titles=("amount_too_large error for KRW payments",),
            reports=(
                """
                Payments in KRW fail with amount_too_large. The product costs ₩45,000 and we send
                amount=4500000. The same code works for USD and EUR.
                """,
            ),
            evidence="krw",
        ),
    ),
    evidence=ev_zero_decimal,
    countries=("JP", "KR"),
    values={"zd_price_minor": ("12800", "4500", "32000", "9800", "7400")},
)


def ev_dispute(c: Ctx) -> str:
    """Evidence submission errors or a lost dispute whose evidence was never submitted."""
    if c["scenario"] == "too-large":
        return (
            f"POST /v1/disputes/{c['dp']} (request {c['req']})\n"
            '{"error": {"type": "invalid_request_error", "code": "evidence_submission_failed", '
            '"message": "file_too_large: combined evidence must be under 4.5 MB (got 11.8 MB)"}}'
        )
    if c["scenario"] == "deadline":
        return (
            f"POST /v1/disputes/{c['dp']} (request {c['req']})\n"
            '{"error": {"type": "invalid_request_error", "code": "dispute_deadline_passed", '
            f'"message": "Evidence can no longer be submitted for {c["dp"]}"}}}}'
        )
    return (
        f"{c['dp']}  {c['amount']}  reason=product_not_received  status=lost\n"
        f"  evidence_details.due_by: {c.iso(60 * 24 * 4, millis=False)}\n"
        "  evidence_details.has_evidence: true\n"
        "  evidence_details.submission_count: 0"
    )


DISPUTES = Topic(
    key="dispute-evidence",
    queue="payments-api",
    product="Disputes",
    component="evidence",
    count=8,
    priorities=("P3", "P3", "P2"),
    tags=("disputes", "chargebacks"),
    runbooks=("disputes/dispute-evidence",),
    titles=("Chargeback on order #{order}: how do we respond?", "Problem with dispute {dp}"),
    vague=(
        "We lost another chargeback even though we sent everything!! How does this work?",
        "we got a chargeback and can't figure out how to respond in time. help!",
        "Why did we lose this dispute? We had proof of delivery!",
    ),
    reports=(),
    details=("Our dispute rate is very low, this is only the second one this year.",),
    escalations=(),
    causes=(
        Cause(
            "Combined evidence exceeded the 4.5 MB limit (large scanned PDFs).",
            "Customer compressed the scans and submitted before the deadline.",
            titles=("Can't upload dispute evidence, file too large",),
            reports=(
                """
                We're trying to respond to dispute {dp} ({amount}) and the upload fails with
                evidence_submission_failed: file_too_large. The evidence is a scanned delivery
                note and our email thread with the customer, about 12 MB in total.
                """,
            ),
            evidence="too-large",
        ),
        Cause(
            "Evidence was saved as a draft (submit=false) and never submitted to the network; "
            "dispute was lost at the deadline.",
            "Explained save vs submit; amount below the pre-arbitration threshold, so no further "
            "recourse. Customer changed their internal process.",
            titles=(
                "Dispute lost although we submitted evidence",
                "Evidence saved but dispute still said needs_response",
            ),
            reports=(
                """
                Dispute {dp} was marked as lost today. We uploaded the tracking info and the
                signed delivery confirmation last week, so why did we lose?
                """,
            ),
            escalations=(
                """
                Customer says evidence for {dp} was submitted; `ll disputes show` shows
                has_evidence=true but submission_count=0 (saved as draft, never submitted).
                Dispute is now lost. Customer asks for pre-arbitration; amount {amount}. Please
                advise whether that's possible.
                """,
            ),
            evidence="draft",
        ),
        Cause(
            "Dispute notifications went to a former employee's address; the deadline passed.",
            "Updated the notification recipients; nothing could be submitted after the deadline.",
            ("account-ops/dashboard-access-recovery",),
            titles=("dispute_deadline_passed but we were never notified",),
            reports=(
                """
                We only found out about dispute {dp} today and the dashboard says
                dispute_deadline_passed. We never got an email about it. Can you reopen it so we
                can respond? It's {amount}.
                """,
            ),
            details=(
                "The notification emails might be going to an old address of a colleague who left.",
            ),
            evidence="deadline",
        ),
    ),
    evidence=ev_dispute,
)


# --- topics: webhooks --------------------------------------------------------------------------
def ev_webhook_delivery(c: Ctx) -> str:
    """Failed delivery attempts of an endpoint, or the endpoint-disabled email."""
    failure = {
        "timeout": "timed out after 10000ms",
        "moved": "HTTP 404 Not Found",
        "tls": "TLS handshake failed: unable to verify the first certificate",
        "waf": "HTTP 403 Forbidden",
        "handler": "HTTP 500 Internal Server Error",
    }[c["scenario"]]
    c["wh_failure"] = failure
    if c["scenario"] in {"timeout", "moved"} and c.chance(0.35):
        return (
            "Subject: [Ledgerline] webhook_endpoint_disabled\n\n"
            f"Endpoint {c['we']} ({c['url']}) was disabled after failing for 3 days.\n"
            f"Last error: {failure}"
        )
    rows = [f"Endpoint {c['we']}  {c['url']}"]
    for i in range(c.rng.randrange(3, 6)):
        event = c.pick(("payment_intent.succeeded", "charge.refunded", "invoice.paid"))
        if c["scenario"] == "handler":
            event = "invoice.paid"
        rows.append(f"{c.iso(240 - i * 41, millis=False)}  evt_{c.b62(24)}  {event:<26}  {failure}")
    return "\n".join(rows)


WEBHOOK_DELIVERY = Topic(
    key="webhook-delivery-failures",
    queue="integrations",
    product="Webhooks",
    component="delivery",
    count=16,
    priorities=("P2", "P3", "P3", "P3"),
    tags=("webhooks", "delivery"),
    runbooks=("webhooks/delivery-failures",),
    titles=(
        "Webhooks stopped arriving",
        "Not receiving payment_intent.succeeded events",
        "Missing webhook events since yesterday",
        "Webhook attempts failing: {wh_failure}",
    ),
    vague=(
        "we don't get webhooks anymore. orders stay on 'pending payment'. help",
        "Are your webhooks broken? Nothing since last night.",
        "Webhooks failing since yesterday, our orders aren't updating. Please look.",
    ),
    reports=(
        """
        Our endpoint {we} hasn't received any events {when} and orders stay in "awaiting
        payment". The attempts in the dashboard show "{wh_failure}". What should we look at?
        """,
    ),
    details=(
        "The endpoint is {url}, running on {host}.",
        "Webhooks from other providers work fine on the same server.",
        "Is there a way to get an alert before an endpoint gets disabled?",
    ),
    escalations=(),
    causes=(
        Cause(
            "Endpoint did synchronous work (ERP update, confirmation email) before answering; "
            "responses exceeded the 10s delivery timeout.",
            "Customer now answers 200 immediately and processes events from a queue. Endpoint "
            "re-enabled and missed events replayed.",
            ("webhooks/replaying-events",),
            titles=(
                "Orders not updating, webhooks failing with timeout",
                "Webhook endpoint disabled",
            ),
            reports=(
                """
                Our endpoint {we} hasn't received events {when}. In the dashboard the
                attempts show "timed out after 10000ms". Our handler does quite a bit of work
                (creates the order, sends the confirmation email, updates the ERP), but that's
                never been a problem before.
                """,
            ),
            escalations=(
                """
                Customer endpoint {we} was disabled on {date_prev}. Attempts were mostly timeouts
                (p95 9.8 s before that). Customer re-enabled it and asks us to replay ~3 days of
                events, around {count} of them. Can integrations run the bulk replay?
                """,
            ),
            evidence="timeout",
        ),
        Cause(
            "Webhook route changed during a cluster migration; deliveries got 404 for 3 days and "
            "the endpoint was disabled.",
            "Updated the endpoint URL, re-enabled it and bulk-replayed {count} missed events.",
            ("webhooks/replaying-events",),
            titles=(
                "Email says our webhook endpoint was disabled, why?",
                "Webhooks returning 404 after migration",
            ),
            reports=(
                """
                We received an email saying our webhook endpoint was disabled after failing for 3
                days. We moved our API to a new cluster last week. Now we have {count} orders
                stuck in "awaiting payment". How do we get the events back?
                """,
            ),
            evidence="moved",
        ),
        Cause(
            "Renewed certificate was served without its intermediate chain, so our TLS validation "
            "failed.",
            "Customer fixed the chain on their load balancer; deliveries resumed and retries "
            "caught up.",
            ("gateway/tls-and-network-requirements",),
            titles=("Webhook attempts fail with TLS error",),
            reports=(
                """
                The delivery attempts for our endpoint show "{wh_failure}". Our certificate was
                renewed on {day}; it's valid when I open the URL in a browser.
                """,
            ),
            escalations=(
                """
                All attempts to {we} fail with "unable to verify the first certificate". ll net
                tls-check shows the intermediate missing from their chain (new certificate from
                their CDN). Customer disagrees, needs someone from the webhooks team to talk to
                them.
                """,
            ),
            evidence="tls",
        ),
        Cause(
            "New WAF blocked the webhook source IP ranges (403).",
            "Customer allow-listed the published webhook IP ranges and subscribed to the IP feed.",
            ("gateway/tls-and-network-requirements",),
            reports=(
                """
                Webhook attempts fail with 403 since we put our API behind a new WAF. Which IP
                addresses do your webhooks come from, so we can allow them?
                """,
            ),
            evidence="waf",
        ),
        Cause(
            "Handler bug returned 500 for invoice.paid after a deploy.",
            "Customer fixed the handler; automatic retries delivered the pending events.",
            reports=(
                """
                Our handler returned errors for invoice.paid events after a deploy on {day}. I can
                see the retries in the dashboard. Will Ledgerline keep retrying, or have we lost
                these?
                """,
            ),
            details=("We verify with the Java SDK's Webhook.constructEvent.",),
            evidence="handler",
        ),
    ),
    evidence=ev_webhook_delivery,
    values={"url": ("https://api.{domain}/webhooks/ledgerline", "https://shop.{domain}/hooks/ll")},
)


def ev_webhook_sig_body(c: Ctx) -> str:
    """Signature verification failures with the classic raw-body message."""
    if c["scenario"] == "express" or (c["scenario"] != "django" and c.chance(0.4)):
        return (
            "LedgerlineSignatureVerificationError: No signatures found matching the expected "
            "signature for payload. Are you passing the raw request body you received from "
            "Ledgerline?\n"
            "    at Webhooks.constructEvent "
            "(/app/node_modules/@ledgerline/node/dist/webhooks.js:118:19)\n"
            "    at /app/src/routes/webhooks.ts:23:33\n"
            "    at Layer.handle [as handle_request] "
            "(/app/node_modules/express/lib/router/layer.js:95:5)"
        )
    if c["scenario"] == "django" or c.chance(0.5):
        return (
            "Traceback (most recent call last):\n"
            '  File "/app/shop/views/webhooks.py", line 31, in ledgerline_webhook\n'
            "    event = ledgerline.Webhook.construct_event(payload, sig_header, endpoint_secret)\n"
            '  File "/usr/local/lib/python3.11/site-packages/ledgerline/webhook.py", line 72, '
            "in construct_event\n"
            "    WebhookSignature.verify_header(payload, sig_header, secret, tolerance)\n"
            "ledgerline.error.SignatureVerificationError: webhook_signature_invalid: No "
            "signatures found matching the expected signature for payload"
        )
    return (
        f"{c.iso(20)} WARN webhooks [{c['host']}] rejecting event: webhook_signature_invalid "
        f'header="t={c.epoch(20)},v1={c.hex(64)}"\n'
        f"{c.iso(18)} WARN webhooks [{c['host']}] rejecting event: webhook_signature_invalid "
        f'header="t={c.epoch(18)},v1={c.hex(64)}"'
    )


WEBHOOK_SIG_BODY = Topic(
    key="webhook-signature-raw-body",
    queue="integrations",
    product="Webhooks",
    component="signature verification",
    count=10,
    priorities=("P3", "P3", "P2"),
    tags=("webhooks", "signatures"),
    runbooks=("webhooks/signature-verification",),
    titles=(
        "webhook_signature_invalid on every event",
        "No signatures found matching the expected signature for payload",
    ),
    vague=(
        """
        webhook signature keeps failing, we copied the code from the docs exactly. is the secret
        wrong??
        """,
        "our webhook endpoint rejects all your events with a signature error. what are we doing "
        "wrong",
        "Signature verification fails in prod. Please help, we're blind on payments right now.",
    ),
    reports=(),
    details=(
        "Our signing secret is {whsec}, in case you need to check it on your side.",
        "We'd rather not switch off verification, but we're close to doing it.",
    ),
    escalations=(
        """
        Customer's events fail verification on their side. Verified {evt} with `ll webhooks
        verify` against their secret suffix: passes, so our signature is fine and their stack
        changes the body or uses another secret. Need integrations to walk them through it;
        they're not convinced it's on their side.
        """,
    ),
    causes=(
        Cause(
            "express.json() parsed the body before the webhook route; the re-serialised JSON no "
            "longer matched the signature.",
            "Mounted express.raw for the webhook route only; verification passes.",
            titles=(
                "Signature verification fails after moving to Express",
                "Cannot verify webhook signatures in our Node app",
            ),
            reports=(
                """
                Every webhook we receive fails verification with "No signatures found matching
                the expected signature for payload". We use Express and pass req.body, the
                signature header and our secret to constructEvent. It worked in our prototype and
                fails in the real app.
                """,
            ),
            details=("We're on version {node_sdk} of the Node SDK.",),
            evidence="express",
        ),
        Cause(
            "Test-mode endpoint signing secret deployed in production.",
            "Customer deployed the live endpoint's secret; events verify.",
            ("payments/test-vs-live-mode",),
            titles=("Webhook signature check failing in production only",),
            reports=(
                """
                In production all events fail with webhook_signature_invalid, in test mode it
                works. Same code for both, the secret comes from an environment variable.
                """,
            ),
            evidence="secret",
        ),
        Cause(
            "API Gateway mapping template re-encoded the body (non-ASCII characters escaped).",
            "Switched to a proxy integration that passes the raw body through.",
            reports=(
                """
                We moved our webhook receiver behind AWS API Gateway and since then signature
                verification fails for some events. The failing ones seem to have non-ASCII
                characters in the customer name (Zoë, Müller, ...). The body looks identical when
                I log it.
                """,
            ),
            evidence="gateway",
        ),
        Cause(
            "Handler normalised the JSON (json.loads/json.dumps) before verification.",
            "View now passes request.body bytes to construct_event.",
            titles=("SignatureVerificationError in Django webhook view",),
            reports=(
                """
                Our Django view normalises the payload (json.loads then json.dumps) before calling
                construct_event and we get SignatureVerificationError on every event.
                """,
            ),
            details=("ledgerline-python {py_sdk}, Django 4.2.",),
            evidence="django",
        ),
    ),
    evidence=ev_webhook_sig_body,
)


def ev_webhook_ordering(c: Ctx) -> str:
    """Handler logs showing events out of order or delivered twice."""
    if c["scenario"] == "unordered":
        return (
            f"{c.iso(31.1)} received {c['evt']} payment_intent.succeeded  {c['pi']}\n"
            f"{c.iso(31.08)} ERROR handler: order for {c['pi']} not found\n"
            f"{c.iso(30.9)} received {c['evt2']} payment_intent.created    {c['pi']}"
        )
    if c["scenario"] == "stale":
        return (
            f"{c.iso(12.5)} received {c['evt2']} customer.subscription.updated {c['sub']} "
            "plan=business\n"
            f"{c.iso(12.4)} received {c['evt']} customer.subscription.updated {c['sub']} "
            "plan=pro\n"
            f"-> our database now says plan=pro, the dashboard says business"
        )
    return (
        f"{c.iso(50)} POST /webhooks/ledgerline {c['evt']} invoice.paid -> 200 (11214 ms)\n"
        f"{c.iso(49.7)} POST /webhooks/ledgerline {c['evt']} invoice.paid -> 200 (412 ms)"
    )


WEBHOOK_ORDERING = Topic(
    key="webhook-ordering-duplicates",
    queue="integrations",
    product="Webhooks",
    component="events",
    count=8,
    priorities=("P3", "P4", "P3"),
    tags=("webhooks", "events"),
    runbooks=("webhook-event-ordering",),
    titles=("Webhook events arrive out of order", "Question about webhook event order"),
    vague=(
        """
        we sometimes get the same webhook twice and our customers get 2 confirmation emails. can
        you stop sending duplicates please
        """,
        "your webhooks come in the wrong order and it breaks our order processing. is this a bug?",
        "Getting duplicate events from you, this causes double emails to our customers.",
    ),
    reports=(),
    details=("We process events in the order we receive them.",),
    escalations=(),
    causes=(
        Cause(
            "Delivery is unordered by design; the handler assumed created arrives before "
            "succeeded.",
            "Handler now fetches the object from the API when it sees an unknown id; explained "
            "the ordering guarantees.",
            titles=("payment_intent.succeeded received before payment_intent.created",),
            reports=(
                """
                Our handler crashes with "order not found" because payment_intent.succeeded
                arrives before payment_intent.created. Isn't the order guaranteed?
                """,
            ),
            evidence="unordered",
        ),
        Cause(
            "Handler took longer than 10 s, so the delivery was retried and processed twice; no "
            "deduplication on event id.",
            "Customer stores processed event ids and acknowledges before doing the work.",
            titles=(
                "Same event delivered twice, customers get duplicate emails",
                "Duplicate fulfilment caused by webhook retries",
            ),
            reports=(
                """
                Event {evt} was delivered twice to our endpoint within 15 seconds and we answered
                200 both times. The customer got two shipping confirmations.
                """,
            ),
            details=(
                "Our handler sometimes takes 8-12 seconds because it renders the invoice PDF.",
            ),
            escalations=(
                """
                Customer says we send duplicates. Attempts show the first delivery of {evt}
                returned 200 after 11.2 s (past our 10 s timeout, so it was retried). Please
                confirm expected behaviour and help with the wording for the customer.
                """,
            ),
            evidence="slow",
        ),
        Cause(
            "Handler applied subscription events in arrival order; a stale event overwrote newer "
            "state.",
            "Customer now compares the object's updated timestamp before writing.",
            titles=("Subscription plan out of sync after webhook updates",),
            reports=(
                """
                customer.subscription.updated events get applied in the wrong order and we end up
                with the old plan in our database.
                """,
            ),
            evidence="stale",
        ),
    ),
    evidence=ev_webhook_ordering,
)


# The spike: a KB gap on purpose. No runbook covers it; see demo/README.md.
SPIKE_START = datetime(2026, 11, 4, 7, 0, tzinfo=UTC)
SPIKE_FIX = datetime(2026, 11, 19, 16, 0, tzinfo=UTC)


def ev_secret_rotation(c: Ctx) -> str:
    """SDK 9.4.x / 5.2.0 signature failures with key_id=wk_default (the spike)."""
    if c["sdk_lang"] == "node":
        c["sdk_name"], c["sdk_ver"], c["sdk_prev"] = "@ledgerline/node", c["node_sdk"], "9.3.4"
        c["runtime_line"] = (
            f"We're on Node {c['node_runtime']} with Express; the raw body is passed to "
            "constructEvent (that code has worked for two years)."
        )
    else:
        c["sdk_name"], c["sdk_ver"], c["sdk_prev"] = "ledgerline-python", c["py_sdk"], "5.1.3"
        c["runtime_line"] = (
            "We're on Python 3.12 / Django 5 and pass request.body untouched to "
            "construct_event (that code has worked for two years)."
        )
    c["sdk_label"] = f"{c['sdk_name']} {c['sdk_ver']}"
    header = f"Ledgerline-Signature: t={c.epoch(3)},v1={c.hex(64)}"
    msg = (
        "webhook_signature_invalid: computed signature does not match any v1 signature in "
        "Ledgerline-Signature header (key_id=wk_default)"
    )
    if c["sdk_lang"] == "node":
        return (
            f"{header}\n\n"
            f"LedgerlineSignatureVerificationError: {msg}\n"
            "    at WebhookVerifier.verifyHeader "
            "(/srv/app/node_modules/@ledgerline/node/dist/webhooks/verifier.js:87:15)\n"
            "    at Webhooks.constructEvent "
            "(/srv/app/node_modules/@ledgerline/node/dist/webhooks/index.js:41:27)\n"
            f"    at handleLedgerlineEvent (/srv/app/src/payments/webhook.{c.pick(('js', 'ts'))}:"
            f"{c.rng.randrange(14, 80)}:{c.rng.randrange(10, 40)})\n"
            f"  (@ledgerline/node {c['node_sdk']}, node {c['node_runtime']})"
        )
    return (
        "Traceback (most recent call last):\n"
        f'  File "/app/{c.pick(("billing", "payments", "shop"))}/webhooks.py", '
        f"line {c.rng.randrange(20, 120)}, in receive\n"
        "    event = ledgerline.Webhook.construct_event(request.body, sig, WEBHOOK_SECRET)\n"
        '  File "/usr/local/lib/python3.12/site-packages/ledgerline/webhook/_verify.py", '
        "line 64, in verify_header\n"
        "    raise error.SignatureVerificationError(msg, sig_header, http_body=payload)\n"
        f"ledgerline.error.SignatureVerificationError: {msg}\n"
        f"(ledgerline {c['py_sdk']}, {header})"
    )


SECRET_ROTATION_SPIKE = Topic(
    key="webhook-signature-sdk-key-rotation",
    queue="integrations",
    product="Webhooks",
    component="signature verification",
    count=40,
    priorities=("P2", "P2", "P3", "P3"),
    tags=("webhooks", "signatures", "sdk-regression"),
    runbooks=(),
    titles=(
        "Webhook signature verification failing after SDK upgrade",
        "webhook_signature_invalid since updating to {sdk_label}",
        "All webhooks rejected: computed signature does not match any v1 signature",
        "{sdk_label}: signature verification fails on every event",
        "Webhooks broken after Dependabot bump",
        "key_id=wk_default signature mismatch",
        "Signature mismatch on all events since this week",
        "Did you change webhook signing? Nothing verifies anymore",
        "URGENT: orders not confirming, webhook signature errors",
        "{sdk_label} breaks webhook verification",
        "Webhook signature errors after upgrading the Ledgerline SDK",
        "Is the new key rotation feature breaking old endpoints?",
    ),
    vague=(
        """
        Since this week none of our webhooks pass the signature check. Nothing changed on our
        side. Did you change something??
        """,
        """
        webhooks failing signature verification since yesterday, orders aren't being confirmed.
        please look into this urgently
        """,
        """
        Hi, all webhook events are rejected by our app now with a signature error. We didn't
        touch the secret. What happened?
        """,
        """
        Is there a known issue with webhook signatures right now? We're seeing 100% failures.
        """,
        "signature errors on ALL webhooks since the update. help",
    ),
    reports=(
        """
        After merging a Dependabot PR that bumped {sdk_name} from {sdk_prev} to {sdk_ver},
        every webhook fails verification with "computed signature does not match any v1 signature
        in Ledgerline-Signature header (key_id=wk_default)". The secret hasn't changed, and if I
        revert the bump locally the same payload verifies fine.
        """,
        """
        We upgraded {sdk_name} to {sdk_ver} on {day} as part of our monthly dependency
        updates and since then all incoming events are rejected with a signature verification
        error. Our endpoint was created back in 2022. A colleague's endpoint
        created last month (different app) works fine with the same SDK version, which is
        confusing.
        """,
        """
        Our webhook handler started rejecting every event this morning with
        webhook_signature_invalid. The only thing deployed yesterday was a routine dependency
        update, which included the Ledgerline SDK ({sdk_label}). We are now manually marking
        orders as paid. Is this a known issue with the new release?
        """,
        """
        I read the changelog for {sdk_label} ("support for rotating webhook signing keys with key
        ids") and since that release our verification fails. Do we need to configure a key id
        now? The docs don't mention anything for existing endpoints.
        """,
        """
        We got {count} failed deliveries overnight and the dashboard shows our endpoint answering
        400. Our logs show the SDK throwing a signature mismatch on every event. We roll our
        secrets every year; the current one is from 2023. Is it possible the SDK no longer
        accepts secrets in the old format?
        """,
        """
        Signature verification broke for us in staging after upgrading to {sdk_label}. We held
        the production deploy, but we need to know whether it's safe to upgrade at all. Our
        security team requires us to stay on the latest SDK.
        """,
        """
        Heads up, I think your latest SDK release has a bug. With {sdk_label} the signature
        check rejects valid events for our older endpoint. I rolled the endpoint secret in the
        dashboard as a test and with the new secret it verifies again. We have 14 endpoints
        across our apps though, so rolling all of them isn't great.
        """,
        """
        Our payment confirmations have been failing {when}. Webhooks arrive but we return 400
        because the Ledgerline library says the signature is invalid. Nobody on our team touched
        the webhook code in months; the build pulled {sdk_label} automatically because we use a
        caret range.
        """,
    ),
    details=(
        "Secret in use (from our env file): {whsec}",
        "{runtime_line}",
        "Pinning back to the previous SDK version fixes it, but we'd like to know whether that's "
        "the recommended workaround.",
        "Our endpoint id is {we}.",
        "Happy to share a captured payload and header privately if that helps you reproduce.",
        "We checked the server clock, it's in sync (chrony).",
    ),
    escalations=(
        """
        Third ticket today with the same pattern: webhook_signature_invalid "(key_id=wk_default)"
        right after upgrading to {sdk_label}, endpoint created before 2024, secret unchanged.
        `ll webhooks verify` on their captured delivery passes with the secret suffix, so our
        signing is fine. Looks like an SDK regression with legacy-format secrets. We don't have
        a runbook for this. Can integrations confirm and give us a workaround to send out?
        """,
        """
        Customer's webhooks all fail since the SDK upgrade to {sdk_label}. Rolling back to the
        previous minor fixes it. Customer is {plan} and asks for an official statement and an
        ETA for a fixed release. Please advise; no KB article to point them to.
        """,
        """
        Seeing a cluster of signature verification tickets this week, all on the new SDK release
        ({sdk_label}). Customer here verified with a brand-new test endpoint: works. Their
        2021-era endpoint: fails. Smells like key derivation for old secrets. Raising so
        integrations can track it as one problem.
        """,
        """
        Customer in production impact: webhooks rejected since deploy of {sdk_label}, orders not
        confirmed for ~{count} payments. They can't roll back easily (security policy). Asking
        whether rolling the endpoint secret is a safe workaround.
        """,
    ),
    causes=(
        Cause(
            "SDK regression in {sdk_label}: the new key-rotation code base64-decodes the signing "
            "secret, which yields the wrong HMAC key for legacy-format (pre-2024) whsec_ secrets, "
            "so every signature check fails for older endpoints.",
            "Workaround: pinned the previous SDK version ({sdk_prev}); the customer will move to "
            "the fixed release later.",
        ),
        Cause(
            "SDK {sdk_label} mis-derives the HMAC key for legacy-format webhook secrets created "
            "before 2024.",
            "Customer rolled the endpoint signing secret (new-format secret) and deployed it; "
            "verification works on the new SDK.",
        ),
        Cause(
            "Known SDK regression in @ledgerline/node 9.4.0-9.4.1 / ledgerline-python 5.2.0 with "
            "legacy-format webhook secrets.",
            "Upgraded to the fixed release (@ledgerline/node 9.4.2 / ledgerline-python 5.2.1, "
            "released 19 Nov); customer confirmed events verify again. Missed events replayed.",
            not_before=SPIKE_FIX,
        ),
    ),
    evidence=ev_secret_rotation,
    values={
        "node_sdk": ("9.4.0", "9.4.0", "9.4.1"),
        "py_sdk": ("5.2.0",),
        "node_runtime": ("20.18.0", "22.11.0", "18.20.4", "22.9.0"),
        "sdk_lang": ("node", "node", "node", "python", "python"),
    },
    window=(SPIKE_START, RANGE_END),
    styles=(15, 45, 25, 15),
    gap=True,
    spike=True,
    ramp=True,
    resolve_factor=0.4,
)


# --- topics: SDKs ------------------------------------------------------------------------------
def ev_apple_pay(c: Ctx) -> str:
    """LedgerlineCheckout iOS console lines explaining a missing Apple Pay button."""
    sdk = f"[LedgerlineCheckout {c['ios_sdk']}]"
    if c["scenario"] == "unregistered":
        return (
            f"{c.iso(25, millis=False)} {sdk} LLApplePayError.merchantIdentifierInvalid: The "
            f"merchant identifier 'merchant.{c['bundle']}' is not registered with Ledgerline\n"
            f"{c.iso(24.9, millis=False)} {sdk} Apple Pay unavailable, hiding button "
            "(reason=merchantIdentifierInvalid)"
        )
    if c["scenario"] == "entitlement":
        return (
            f"{c.iso(25, millis=False)} {sdk} PKPaymentAuthorizationController could not be "
            "presented: missing entitlement com.apple.developer.in-app-payments for "
            f"merchant.{c['bundle']}\n"
            f"{c.iso(24.9, millis=False)} {sdk} Apple Pay unavailable, hiding button "
            "(reason=paymentNotSupported)"
        )
    if c["scenario"] == "expired":
        return (
            "PaymentSheet result: failed(LLCheckoutError.apiError("
            'code: "payment_method_unactivated", '
            f'requestId: "{c["req"]}"))\n'
            f"Device: iPhone 15, iOS 18.1 - LedgerlineCheckout {c['ios_sdk']}"
        )
    return (
        f"{c.iso(5, millis=False)} {sdk} canMakePayments(usingNetworks: [visa, masterCard, amex]) "
        "= false\n"
        f"{c.iso(5, millis=False)} {sdk} Apple Pay unavailable, hiding button "
        "(reason=deviceNotSupported)"
    )


IOS_APPLE_PAY = Topic(
    key="ios-apple-pay",
    queue="integrations",
    product="Checkout SDK",
    component="iOS",
    count=9,
    priorities=("P3", "P3", "P2"),
    tags=("checkout-sdk", "ios", "apple-pay"),
    runbooks=("sdks/checkout-ios-apple-pay",),
    titles=("Apple Pay button not showing in iOS app", "Apple Pay problem in our iOS app"),
    vague=(
        "apple pay disappeared from our app?? it was there last week",
        "Apple Pay isn't working in our iPhone app. Card payments are fine. What changed?",
        "hi, customers say they can't pay with apple pay in the app anymore",
    ),
    reports=(),
    details=("We're on LedgerlineCheckout {ios_sdk} via Swift Package Manager.",),
    escalations=(),
    causes=(
        Cause(
            "Merchant id configured in CheckoutConfiguration was not registered in the Dashboard "
            "(merchantIdentifierInvalid).",
            "Customer registered the merchant id, uploaded the Apple Pay certificate from our CSR; "
            "button shows again.",
            titles=("LLApplePayError.merchantIdentifierInvalid",),
            reports=(
                """
                After updating to LedgerlineCheckout {ios_sdk} the Apple Pay button no longer shows
                up in our payment sheet. Card payments work. The console shows
                merchantIdentifierInvalid for merchant.{bundle}.
                """,
            ),
            evidence="unregistered",
        ),
        Cause(
            "Release build entitlements had a different Apple Pay merchant id than debug / "
            "TestFlight.",
            "Aligned the entitlements for all build configurations; fixed in the next App Store "
            "release.",
            titles=("Apple Pay works in TestFlight but not in the App Store build",),
            reports=(
                """
                Apple Pay works fine in our TestFlight builds, but in the App Store build the
                button is missing. Same code, same Ledgerline account.
                """,
            ),
            details=("Our merchant id in Xcode is merchant.{bundle}.",),
            escalations=(
                """
                `ll wallets applepay` shows an active certificate for merchant.{bundle}, but the
                app's release entitlement lists a different merchant id than the debug one.
                Customer insists nothing changed. Can integrations confirm before we ask them to
                redo their entitlements?
                """,
            ),
            evidence="entitlement",
        ),
        Cause(
            "Apple Pay payment processing certificate expired.",
            "Customer generated a new certificate from our CSR and uploaded it; payments work.",
            titles=("Apple Pay stopped working after certificate expiry email",),
            reports=(
                """
                We got an email about our Apple Pay certificate expiring and now Apple Pay
                payments fail with payment_method_unactivated. Do we need to do something in the
                Apple developer portal?
                """,
            ),
            evidence="expired",
        ),
        Cause(
            "Affected devices had no supported card in Wallet / unsupported region; SDK hides "
            "Apple Pay by design.",
            "Explained the canMakePayments behaviour; no change needed.",
            titles=("Apple Pay missing for some users",),
            reports=(
                """
                Apple Pay doesn't show for some of our users, others can pay normally. Is there a
                device or region restriction?
                """,
            ),
            evidence="device",
        ),
    ),
    evidence=ev_apple_pay,
    values={"ios_sdk": ("6.6.0", "6.7.2", "6.8.0"), "bundle": ("com.{slug}.app", "com.{slug}.ios")},
)


def ev_csp(c: Ctx) -> str:
    """Browser console Content Security Policy violations for Ledgerline domains."""
    if c["scenario"] == "frame":
        return (
            "Refused to frame 'https://js.ledgerline.com/' because it violates the following "
            "Content Security Policy directive: \"frame-src 'self' https://www.youtube.com\".\n"
            "checkout.js:1  [Ledgerline] Failed to mount card element: iframe blocked"
        )
    if c["scenario"] == "hooks":
        return (
            "Refused to frame 'https://hooks.ledgerline.com/' because it violates the following "
            "Content Security Policy directive: \"frame-src 'self' https://js.ledgerline.com\"."
        )
    if c.chance(0.5):
        return (
            "Refused to load the script 'https://js.ledgerline.com/v3/checkout.js' because it "
            "violates the following Content Security Policy directive: \"script-src 'self' "
            "'unsafe-inline' https://www.googletagmanager.com\"."
        )
    return (
        "Refused to connect to 'https://api.ledgerline.com/v1/elements/sessions' because it "
        "violates the following Content Security Policy directive: \"connect-src 'self' "
        f'https://api.{c["domain"]}".\n'
        "Uncaught (in promise) LedgerlineError: Failed to fetch elements session"
    )


CHECKOUT_JS_CSP = Topic(
    key="checkout-js-csp",
    queue="integrations",
    product="Checkout SDK",
    component="JS",
    count=9,
    priorities=("P2", "P3", "P2"),
    tags=("checkout-sdk", "javascript", "csp"),
    runbooks=("sdks/checkout-js-csp",),
    titles=(
        "Card form not loading on checkout page",
        "Checkout.js blank in production",
        "CSP errors with Ledgerline checkout",
    ),
    vague=(
        "the payment form is just empty on our website. nobody can pay!!!",
        "Card fields disappeared from our checkout page today. Please help.",
        "Checkout page broken since our deploy, the card input just doesn't appear.",
    ),
    reports=(),
    details=("Checkout page: https://shop.{domain}/checkout",),
    escalations=(
        """
        Customer's Content-Security-Policy blocks Ledgerline domains (console errors attached).
        Sent them the required directives; they say their security team needs the official list
        in writing before changing the policy. Please confirm the list for them.
        """,
    ),
    causes=(
        Cause(
            "Content-Security-Policy frame-src did not include js.ledgerline.com.",
            "Customer added the required directives at their CDN; card form renders.",
            titles=("Refused to frame js.ledgerline.com",),
            reports=(
                """
                Since our release on {day} the card form on our checkout page doesn't render; the
                container is just empty. It works on localhost. The browser console has a Content
                Security Policy error mentioning js.ledgerline.com.
                """,
            ),
            details=("Our CSP is set by Cloudflare, not in the app.",),
            evidence="frame",
        ),
        Cause(
            "script-src / connect-src did not allow js.ledgerline.com and api.ledgerline.com after "
            "a CSP hardening.",
            "Added the directives from the KB article; verified in production.",
            reports=(
                """
                Our security team rolled out a stricter Content-Security-Policy across all our
                sites this week and now the Ledgerline payment form fails to load. Which domains
                do we need to allow?
                """,
            ),
            details=("We use helmet.js with mostly default settings.",),
            evidence="script",
        ),
        Cause(
            "frame-src lacked hooks.ledgerline.com, so the 3DS challenge frame was blocked.",
            "Added hooks.ledgerline.com to frame-src; challenges complete.",
            ("payments/3ds-authentication",),
            titles=("3DS challenge window empty",),
            reports=(
                """
                The checkout form loads, but when a card needs 3D Secure the challenge window is
                blank and the payment never completes.
                """,
            ),
            evidence="hooks",
        ),
    ),
    evidence=ev_csp,
)


def ev_java_tls(c: Ctx) -> str:
    """Java SDK handshake failures (protocol_version or PKIX)."""
    if c["scenario"] != "truststore":
        return (
            "com.ledgerline.exception.ApiConnectionException: IOException during API request to "
            "Ledgerline (https://api.ledgerline.com): Received fatal alert: protocol_version "
            "Please check your internet connection and try again.\n"
            "\tat com.ledgerline.net.HttpURLConnectionClient.request"
            "(HttpURLConnectionClient.java:98)\n"
            "\tat com.ledgerline.net.LiveLedgerlineResponseGetter.request"
            "(LiveLedgerlineResponseGetter.java:61)\n"
            "\tat com.ledgerline.model.PaymentIntent.create(PaymentIntent.java:412)\n"
            f"\tat com.{c['slug']}.billing.PaymentService.charge(PaymentService.java:"
            f"{c.rng.randrange(40, 300)})\n"
            "Caused by: javax.net.ssl.SSLHandshakeException: Received fatal alert: "
            "protocol_version\n"
            "\tat sun.security.ssl.Alerts.getSSLException(Alerts.java:192)\n"
            "\tat sun.security.ssl.SSLSocketImpl.recvAlert(SSLSocketImpl.java:2023)"
        )
    return (
        "javax.net.ssl.SSLHandshakeException: sun.security.validator.ValidatorException: PKIX "
        "path building failed: sun.security.provider.certpath.SunCertPathBuilderException: "
        "unable to find valid certification path to requested target\n"
        "\tat com.ledgerline.net.HttpURLConnectionClient.request(HttpURLConnectionClient.java:98)"
    )


JAVA_TLS = Topic(
    key="java-sdk-tls",
    queue="integrations",
    product="Server SDKs",
    component="Java",
    count=8,
    priorities=("P2", "P2", "P3"),
    tags=("server-sdk", "java", "tls"),
    runbooks=("sdks/java-sdk-tls-errors",),
    titles=(
        "SSLHandshakeException calling api.ledgerline.com",
        "Java app can't connect to Ledgerline anymore",
        "ApiConnectionException after your TLS change",
    ),
    vague=(
        "Our Java backend can't reach your API anymore since this morning. Urgent.",
        "Java service gets SSL errors calling Ledgerline. Nothing changed on our side!!",
        "Can't connect to api.ledgerline.com from our server, handshake errors. help",
    ),
    reports=(),
    details=("Other HTTPS calls from the same JVM work fine.",),
    escalations=(),
    causes=(
        Cause(
            "Old JVM ({jvm}) offered only TLS 1.0/1.1, which the API no longer accepts since "
            "2026-06-01.",
            "Customer upgraded to JDK 17 and ledgerline-java 14.2; calls succeed.",
            ("gateway/tls-and-network-requirements",),
            titles=(
                "SSLHandshakeException: Received fatal alert: protocol_version",
                "Legacy JBoss server fails to connect to the API",
            ),
            reports=(
                """
                Since {day} all calls from our billing service fail with ApiConnectionException
                and "Received fatal alert: protocol_version". We run ledgerline-java {java_sdk} on
                {jvm}. Nothing was deployed on our side.
                """,
                """
                Our on-prem order system (JBoss on {jvm}, quite old) can no longer create payments.
                The error is an SSLHandshakeException. We saw your email about TLS 1.0/1.1 but
                thought we would be fine.
                """,
            ),
            details=(
                "Upgrading the JVM on this box is a big project for us, is there anything else we "
                "can do?",
            ),
            escalations=(
                """
                Customer on {jvm} fails the handshake since the TLS 1.0/1.1 removal; gateway logs
                show client.tls_offered=TLSv1,TLSv1.1. They ask for a temporary exception for
                their IP range. I've told them we can't, but they want to hear it from
                engineering.
                """,
            ),
            evidence="old-jvm",
        ),
        Cause(
            "JVM flag -Dhttps.protocols=TLSv1 forced TLS 1.0.",
            "Removed the flag (moved the legacy partner call to its own process); handshake "
            "succeeds with TLS 1.2.",
            reports=(
                """
                Calls to Ledgerline fail with "Received fatal alert: protocol_version" even though
                we run Java 11, which should support TLS 1.2. Started after your TLS change.
                """,
            ),
            details=(
                "We start the JVM with -Dhttps.protocols=TLSv1 because of an old partner "
                "integration.",
            ),
            evidence="flag",
        ),
        Cause(
            "Custom truststore lacked the intermediate of our 2026 certificate chain (PKIX error).",
            "Customer switched back to the JDK default truststore plus their internal CA.",
            ("gateway/tls-and-network-requirements",),
            titles=("PKIX path building failed calling api.ledgerline.com",),
            reports=(
                """
                After our security team rolled out a new truststore, calls to api.ledgerline.com
                fail with "PKIX path building failed". Other HTTPS calls from the same JVM work.
                """,
            ),
            evidence="truststore",
        ),
    ),
    evidence=ev_java_tls,
    values={
        "java_sdk": ("12.4.0", "13.1.2", "11.9.1"),
        "jvm": ("JDK 7u80", "Java 8u151", "IBM J9 8.0.5", "Java 8u121"),
    },
    window=(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 8, 20, tzinfo=UTC)),
)


def ev_python_conn(c: Ctx) -> str:
    """Python SDK APIConnectionError tracebacks, one cause per scenario."""
    reason = {
        "inspection": "HTTPSConnectionPool(host='api.ledgerline.com', port=443): Max retries "
        "exceeded with url: /v1/customers (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in "
        "certificate chain (_ssl.c:1006)')))",
        "ipv6": "TLS handshake timeout",
        "nat": "HTTPSConnectionPool(host='api.ledgerline.com', port=443): Max retries exceeded "
        "with url: /v1/payment_intents (Caused by ConnectTimeoutError(<urllib3.connection."
        "HTTPSConnection object at 0x7f3a2c1b9d50>, 'Connection to api.ledgerline.com timed out. "
        "(connect timeout=30)'))",
        "throttle": "HTTPSConnectionPool(host='api.ledgerline.com', port=443): Max retries "
        "exceeded with url: /v1/payment_intents (Caused by ProxyError('Cannot connect to "
        "proxy.', TimeoutError('timed out')))",
    }[c["scenario"]]
    return (
        "Traceback (most recent call last):\n"
        f'  File "/app/{c.pick(("payments", "billing", "orders"))}/service.py", line '
        f"{c.rng.randrange(30, 200)}, in charge\n"
        "    intent = ledgerline.PaymentIntent.create(amount=amount, currency=currency, "
        "customer=customer_id)\n"
        '  File "/usr/local/lib/python3.11/site-packages/ledgerline/_http_client.py", line 212, '
        "in request\n"
        "    raise error.APIConnectionError(msg, should_retry=True)\n"
        "ledgerline.error.APIConnectionError: Unexpected error communicating with Ledgerline: "
        f"{reason}"
    )


PYTHON_CONNECTION = Topic(
    key="python-sdk-connection",
    queue="integrations",
    product="Server SDKs",
    component="Python",
    count=8,
    priorities=("P3", "P2", "P3"),
    tags=("server-sdk", "python", "network"),
    runbooks=("sdks/python-sdk-connection-errors",),
    titles=("APIConnectionError from the Python SDK", "Connection errors to api.ledgerline.com"),
    vague=(
        "We get connection errors to Ledgerline from our servers, sometimes. Is the API slow?",
        "python library keeps throwing connection errors. is your API down?",
        "Our payment worker can't talk to Ledgerline, connection timeouts everywhere.",
    ),
    reports=(),
    details=("We use ledgerline-python {py_sdk}.",),
    escalations=(
        """
        Customer reports APIConnectionError from their hosts; our gateway has no record of the
        failing requests (`ll logs search --client python` empty at those times), so the packets
        never reach us. They want us to prove it isn't on our side.
        """,
    ),
    causes=(
        Cause(
            "Corporate proxy performed TLS inspection with a CA not in certifi "
            "(CERTIFICATE_VERIFY_FAILED).",
            "Customer excluded api.ledgerline.com from inspection; alternative documented: "
            "ledgerline.ca_bundle_path.",
            titles=("CERTIFICATE_VERIFY_FAILED behind corporate proxy",),
            reports=(
                """
                Our new office network routes all traffic through a corporate proxy with TLS
                inspection and since then our finance scripts fail with
                CERTIFICATE_VERIFY_FAILED.
                """,
            ),
            details=("HTTPS_PROXY is set to http://proxy.{slug}.internal:3128 on those hosts.",),
            evidence="inspection",
        ),
        Cause(
            "Pods preferred IPv6 without an IPv6 route, stalling connections until the TLS "
            "handshake timed out.",
            "Forced IPv4 for egress and re-enabled max_network_retries=2; errors gone.",
            titles=(
                "APIConnectionError: TLS handshake timeout",
                "Python SDK timeouts from Kubernetes",
            ),
            reports=(
                """
                Roughly 2% of our API calls fail with APIConnectionError "TLS handshake timeout".
                We run on Kubernetes (EKS). Calls from our laptops never fail.
                """,
            ),
            details=("We set ledgerline.max_network_retries = 0 to fail fast.",),
            evidence="ipv6",
        ),
        Cause(
            "Lambda in a private subnet without a NAT gateway had no internet egress.",
            "Customer added a NAT gateway; calls succeed.",
            ("gateway/tls-and-network-requirements",),
            titles=("Connection timeouts from AWS Lambda",),
            reports=(
                """
                We moved our payment worker to AWS Lambda inside a VPC and now every call to
                api.ledgerline.com times out.
                """,
            ),
            evidence="nat",
        ),
        Cause(
            "Corporate proxy throttled CONNECT tunnels during peak hours.",
            "Customer's network team raised the proxy's connection limit for the payment hosts.",
            titles=("ProxyError: Cannot connect to proxy",),
            reports=(
                """
                During our busiest hours some API calls fail with "ProxyError: Cannot connect to
                proxy". All our outbound traffic goes through the corporate proxy. Outside peak
                hours everything works.
                """,
            ),
            evidence="throttle",
        ),
    ),
    evidence=ev_python_conn,
    values={"py_sdk": ("4.9.2", "5.0.1", "5.1.0", "5.1.3")},
)


def ev_node_v9(c: Ctx) -> str:
    """Errors after upgrading to @ledgerline/node v9."""
    if c["scenario"] == "unpinned":
        return (
            "TypeError: ledgerline.charges.create is not a function\n"
            f"    at createOrder (/app/src/checkout/payments.js:{c.rng.randrange(20, 90)}:36)\n"
            "    at processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
            "    at async /app/src/routes/checkout.js:58:21"
        )
    if c["scenario"] == "esm":
        return (
            "Error [ERR_REQUIRE_ESM]: require() of ES Module "
            "/app/node_modules/@ledgerline/node/dist/index.mjs not supported.\n"
            "Instead change the require of index.mjs in /app/server/billing.js to a dynamic "
            "import() which is available in all CommonJS modules.\n"
            "    at Object.<anonymous> (/app/server/billing.js:3:20) {\n"
            "  code: 'ERR_REQUIRE_ESM'\n"
            "}"
        )
    if c["scenario"] == "params":
        return (
            "LedgerlineInvalidRequestError: Received unknown parameter: source\n"
            "    at res (/app/node_modules/@ledgerline/node/dist/net/request.js:142:23) "
            f"{{ requestId: '{c['req']}', statusCode: 400 }}"
        )
    return (
        "TypeError: Cannot read properties of undefined (reading 'data')\n"
        "    at reconcile (/app/jobs/reconcile.js:77:41)\n"
        "    // line 77: const charge = paymentIntent.charges.data[0];"
    )


NODE_V9 = Topic(
    key="node-sdk-v9-migration",
    queue="integrations",
    product="Server SDKs",
    component="Node",
    count=12,
    priorities=("P2", "P3", "P3"),
    tags=("server-sdk", "node", "migration"),
    runbooks=("sdks/node-sdk-v9-migration",),
    titles=(
        "Node SDK upgrade broke our checkout",
        "Problems after upgrading to @ledgerline/node 9",
    ),
    vague=(
        "checkout broken after deploy, something with the ledgerline npm package. help pls",
        "after updating the node package everything broke. what changed?",
        "npm update broke our payments integration, errors everywhere. please help quickly",
    ),
    reports=(),
    details=(
        "We're on Node 18 in production and Node 20 locally.",
        "Is v8 still supported, and for how long?",
    ),
    escalations=(),
    causes=(
        Cause(
            "Unpinned dependency range pulled @ledgerline/node 9.x, which removed the legacy "
            "Charges resource.",
            "Pinned 8.14.3 as a stopgap, then migrated to paymentIntents.create following the v9 "
            "guide.",
            titles=("TypeError: ledgerline.charges.create is not a function",),
            reports=(
                """
                Our CI built a new image on {day} and checkout broke with "ledgerline.charges.create
                is not a function". We didn't change our code. Turns out package.json in that
                service had "@ledgerline/node": "*", which I now realise was a bad idea.
                """,
            ),
            escalations=(
                """
                Customer auto-upgraded to {node_sdk} via an unpinned range; charges resource gone,
                production checkout down for ~40 minutes before they pinned 8.14.3. They ask why a
                breaking change shipped without warning (it was announced in June). Please help
                with the response, they're {plan}.
                """,
            ),
            evidence="unpinned",
        ),
        Cause(
            "CommonJS app requiring the ESM-first v9 package (ERR_REQUIRE_ESM).",
            "Customer switched to the CJS entry point and later to 9.3, which supports require.",
            titles=("ERR_REQUIRE_ESM after npm update",),
            reports=(
                """
                After upgrading @ledgerline/node to {node_sdk} our server won't start:
                ERR_REQUIRE_ESM. We're a CommonJS app and can't move to ESM right now.
                """,
            ),
            evidence="esm",
        ),
        Cause(
            "v8-style parameters (source) sent to paymentIntents.create.",
            "Replaced source with payment_method and confirm=true; payments succeed.",
            titles=("Received unknown parameter: source",),
            reports=(
                """
                We're migrating from charges.create to paymentIntents.create as the v9 guide says,
                but now we get "Received unknown parameter: source". What's the equivalent?
                """,
            ),
            evidence="params",
        ),
        Cause(
            "Code relied on paymentIntent.charges, replaced by latest_charge in API version "
            "2026-06-30 pinned by v9.",
            "Pass apiVersion explicitly and read latest_charge; reconciliation fixed.",
            titles=("Where did payment_intent.charges go in v9?",),
            reports=(
                """
                After the upgrade to {node_sdk} our reconciliation code crashes because
                paymentIntent.charges is undefined. Was it removed?
                """,
            ),
            evidence="latest-charge",
        ),
    ),
    evidence=ev_node_v9,
    values={"node_sdk": ("9.0.0", "9.0.1", "9.1.0", "9.2.0")},
    window=(datetime(2026, 7, 8, 12, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),
)


# KB gap: no runbook covers Android checkout crashes.
def ev_android_crash(c: Ctx) -> str:
    """The Checkout Android 3DS crash (a KB gap)."""
    pid = c.rng.randrange(4000, 32000)
    frag = c.hex(7)
    return (
        "FATAL EXCEPTION: main\n"
        f"Process: com.{c['slug']}.android, PID: {pid}\n"
        f"java.lang.IllegalStateException: Fragment ChallengeFragment{{{frag}}} "
        f"({c.hex(8)}-{c.hex(4)}-{c.hex(4)}) not attached to an activity.\n"
        "\tat androidx.fragment.app.Fragment.requireActivity(Fragment.java:1007)\n"
        "\tat com.ledgerline.checkout.threeds.ChallengeFragment.onChallengeResult"
        "(ChallengeFragment.kt:212)\n"
        "\tat com.ledgerline.checkout.threeds.ChallengeCoordinator$handleResult$1.invokeSuspend"
        "(ChallengeCoordinator.kt:88)\n"
        "\tat kotlin.coroutines.jvm.internal.BaseContinuationImpl.resumeWith"
        "(ContinuationImpl.kt:33)\n"
        f"  checkout-android {c['android_sdk']} / Android {c['android_os']} / {c['device']}"
    )


ANDROID_3DS_CRASH = Topic(
    key="android-3ds-challenge-crash",
    queue="integrations",
    product="Checkout SDK",
    component="Android",
    count=9,
    priorities=("P2", "P3", "P2"),
    tags=("checkout-sdk", "android", "crash", "3ds"),
    runbooks=(),
    titles=(
        "Android app crashes during 3DS challenge",
        "IllegalStateException: ChallengeFragment not attached to an activity",
        "Crash when returning from banking app on Android 15",
        "checkout-android {android_sdk} crash in ChallengeCoordinator",
        "Android crash rate up after SDK upgrade",
    ),
    vague=(
        "our android app crashes when people pay with some banks. iOS is fine. what's going on?",
        "Android app crashing at checkout for some users, started after we updated your SDK.",
        "crash reports from android users when paying. something in the ledgerline sdk?",
    ),
    reports=(
        """
        Since we upgraded checkout-android to {android_sdk}, Crashlytics shows a new top crash:
        IllegalStateException in ChallengeFragment. It happens when the user switches to their
        banking app to approve 3D Secure and comes back. Mostly Android {android_os}.
        """,
        """
        About 1.5% of our Android payment sessions crash during the 3DS step. It's reproducible
        with "Don't keep activities" enabled in developer options. Payment is sometimes captured
        even though the app crashed, so the customer doesn't see a confirmation.
        """,
        """
        Customers on {device} report that our app closes when they return from their bank app
        to confirm a payment. Stack trace points into com.ledgerline.checkout.threeds.
        """,
    ),
    details=(
        "We call presentPaymentSheet from a Fragment inside a single-activity app (Navigation "
        "component).",
        "Downgrading to 21.2.x makes the crash go away but we need the new Google Pay fixes.",
    ),
    escalations=(
        """
        Customer with a reproducible crash in checkout-android {android_sdk} (ChallengeFragment
        not attached) when the activity is recreated during the 3DS app switch. No KB article,
        and I couldn't find a known issue. Looks like an SDK bug; forwarding to integrations for
        the SDK team.
        """,
    ),
    causes=(
        Cause(
            "Bug in checkout-android 21.3.x: the 3DS challenge result is delivered to a fragment "
            "that was detached when Android recreated the activity during the bank-app switch.",
            "SDK team confirmed; workaround pin 21.2.4 until the fix. Fixed in 21.3.4; customer "
            "upgraded and the crash disappeared from Crashlytics.",
        ),
        Cause(
            "Same SDK defect (result callback after activity recreation), triggered more often on "
            "Android 15 with aggressive memory management.",
            "Customer moved presentPaymentSheet to the activity scope as a workaround and "
            "upgraded to 21.3.4 once released.",
        ),
    ),
    evidence=ev_android_crash,
    values={
        "android_sdk": ("21.3.0", "21.3.1", "21.3.2"),
        "android_os": ("15", "15", "14"),
        "device": ("Pixel 8", "Samsung Galaxy S24", "Pixel 7a", "Xiaomi 13T"),
    },
    window=(datetime(2026, 6, 10, tzinfo=UTC), RANGE_END),
    gap=True,
)


# --- topics: identity --------------------------------------------------------------------------
def ev_oauth(c: Ctx) -> str:
    """OAuth token endpoint invalid_grant responses and token-refresher logs."""
    scenario = c["scenario"]
    if scenario == "reuse" and c.chance(0.5):
        return (
            f"{c.iso(15.2)} ERROR token-refresher [{c['host']}] refresh failed for "
            f"connected_account=acct_{c.b62(16)}: 400 invalid_grant (Refresh token is invalid, "
            "expired or was already used)\n"
            f"{c.iso(14.7)} ERROR token-refresher [{c['host']}] refresh failed for "
            f"connected_account=acct_{c.b62(16)}: 400 invalid_grant (Refresh token is invalid, "
            "expired or was already used)"
        )
    if scenario in {"reuse", "revoked"}:
        description = (
            "Refresh token is invalid, expired or was already used"
            if scenario == "reuse"
            else "The merchant has revoked access for this application"
        )
        prefix = ""
        if scenario == "revoked":
            prefix = (
                "$ curl https://api.ledgerline.com/v1/balance \\\n"
                f"    -H 'Authorization: Bearer {c['bearer']}' \\\n"
                f"    -H 'Ledgerline-Account: acct_{c.b62(16)}'\n"
                '{"error": {"type": "authentication_error", "code": "expired_token"}}\n\n'
            )
        return prefix + (
            "$ curl -s https://connect.ledgerline.com/oauth/token \\\n"
            f"    -u {c['app_id']}:{c['sk']} \\\n"
            "    -d grant_type=refresh_token \\\n"
            f"    -d refresh_token=rt_{c.b62(32)}\n"
            f'{{"error": "invalid_grant", "error_description": "{description}"}}'
        )
    description = (
        "Authorization code has expired"
        if scenario == "expired-code"
        else "redirect_uri does not match the one used in the authorization request"
    )
    return (
        f"POST https://connect.ledgerline.com/oauth/token  (client_id={c['app_id']})\n"
        f"  grant_type=authorization_code code=ac_{c.b62(24)}\n"
        f"  redirect_uri=https://app.{c['domain']}/oauth/callback\n"
        f'-> 400 {{"error": "invalid_grant", "error_description": "{description}"}}'
    )


OAUTH_INVALID_GRANT = Topic(
    key="oauth-invalid-grant",
    queue="identity",
    product="OAuth & API keys",
    component="OAuth",
    count=10,
    priorities=("P2", "P3", "P3"),
    tags=("oauth", "connect", "tokens"),
    runbooks=("identity/oauth-invalid-grant",),
    titles=(
        "invalid_grant from the OAuth token endpoint",
        "OAuth problems with connected accounts",
    ),
    vague=(
        "our merchants keep getting logged out of the Ledgerline connection, why??",
        "connected accounts randomly disconnect and have to reconnect. very annoying for our "
        "merchants",
        "OAuth token errors since this week. Our merchants are complaining.",
    ),
    reports=(),
    details=("Client id is {app_id}.",),
    escalations=(),
    causes=(
        Cause(
            "Two refresh workers used the same single-use refresh token concurrently; the reuse "
            "was treated as theft and the token family revoked.",
            "Customer serialised refreshes per connected account with a lock and stores the new "
            "refresh token atomically; affected merchants re-authorised via the reconnect link.",
            titles=(
                "Refresh token is invalid, expired or was already used",
                "Merchants have to reconnect every few days",
            ),
            reports=(
                """
                We're a platform with about {count} connected merchants. Since {day}, some of them
                (maybe 5%) fail to refresh with invalid_grant "Refresh token is invalid, expired
                or was already used" and have to reconnect. We refresh tokens every 50 minutes
                from a cron job that runs on two nodes for redundancy.
                """,
            ),
            details=("We store refresh tokens in Redis with a 90 day TTL.",),
            escalations=(
                """
                Platform {customer} sees invalid_grant on refresh. `ll oauth tokens` shows the
                same refresh_token_id used twice within 2 s from two different IPs (their cron
                runs on two nodes), so the token family was revoked as reuse. Need identity to
                confirm and advise on a safe refresh pattern; they have {count} merchants to
                reconnect.
                """,
            ),
            evidence="reuse",
        ),
        Cause(
            "Authorization codes were redeemed after the 5-minute expiry because the callback "
            "handler queued the exchange behind a slow job queue.",
            "Token exchange now happens synchronously in the callback; no more expired codes.",
            titles=("OAuth token exchange fails: Authorization code has expired",),
            reports=(
                """
                Our OAuth onboarding fails at the token exchange step with invalid_grant
                "Authorization code has expired". The user clicks connect, approves, comes back,
                and then this. It happens more during busy hours.
                """,
            ),
            evidence="expired-code",
        ),
        Cause(
            "redirect_uri in the token request differed from the authorize request (trailing "
            "slash).",
            "Aligned both URIs and registered the new one; onboarding works.",
            titles=("redirect_uri mismatch on token exchange",),
            reports=(
                """
                Token exchange returns invalid_grant: "redirect_uri does not match the one used in
                the authorization request". We changed our callback route last week, from
                https://app.{domain}/oauth/callback/ to https://app.{domain}/oauth/callback.
                """,
            ),
            evidence="redirect",
        ),
        Cause(
            "The merchant revoked the platform's access in Settings -> Connected apps (a new "
            "admin cleaned up apps).",
            "Merchant reconnected through the platform's authorize link.",
            titles=("Connected account suddenly inaccessible",),
            reports=(
                """
                A merchant of ours suddenly can't be accessed: every API call with their token
                gives 401 expired_token and the refresh gives invalid_grant. The merchant says
                they didn't do anything.
                """,
            ),
            evidence="revoked",
        ),
    ),
    evidence=ev_oauth,
    platforms_only=True,
)


def ev_api_key(c: Ctx) -> str:
    """401/403/404 responses caused by API key problems."""
    if c["scenario"] == "leaked":
        return (
            f"$ curl https://api.ledgerline.com/v1/payment_intents?limit=3 -u {c['sk']}:\n"
            '{"error": {"type": "authentication_error", "code": "invalid_api_key", "message": '
            f'"Invalid API Key provided: sk_live_****************{c["sk"][-4:]}"}}}}'
        )
    if c["scenario"] == "restricted":
        return (
            f"HTTP 403 (request {c['req']})\n"
            '{"error": {"type": "permission_error", "code": "insufficient_permissions", '
            f'"message": "The provided key \'rk_live_...{c["key4"]}\' does not have the required '
            'permissions for this endpoint: payouts_write"}}'
        )
    if c["scenario"] == "account-header":
        return (
            f"GET /v1/customers/{c['cus']} -> 404 (request {c['req']})\n"
            '{"error": {"type": "invalid_request_error", "code": "resource_missing", "message": '
            f"\"No such customer: '{c['cus']}'\"}}}}"
        )
    return (
        f"{c.iso(35)} ERROR {c['host']} ledgerline call failed: 401 api_key_expired "
        f"(key ending {c['key4']}) path=/v1/invoices request_id={c['req']}\n"
        f"{c.iso(34)} ERROR {c['host']} ledgerline call failed: 401 api_key_expired "
        f"(key ending {c['key4']}) path=/v1/customers request_id={c['req2']}"
    )


API_KEY_ERRORS = Topic(
    key="api-key-auth-errors",
    queue="identity",
    product="OAuth & API keys",
    component="API keys",
    count=12,
    priorities=("P2", "P2", "P3"),
    tags=("api-keys", "authentication"),
    runbooks=("identity/api-key-authentication-errors",),
    titles=("API key not working", "Authentication errors from the API"),
    vague=(
        "everything returns 401 now!!! we didn't change anything",
        "Our API key stopped working. Can you reactivate it?",
        "API says our key is invalid but we copied it from the dashboard. help!!",
    ),
    reports=(),
    details=("Our account id is {account}.",),
    escalations=(),
    causes=(
        Cause(
            "Key was rolled with a 1-hour expiry while cron jobs / Lambdas still used the old key "
            "(api_key_expired).",
            "Customer deployed the new key to the remaining jobs; advised longer expiry windows "
            "for future rolls.",
            titles=(
                "401 api_key_expired after rolling our key",
                "API key expired, production down",
            ),
            reports=(
                """
                A colleague rolled our secret key yesterday (security audit) and chose "expire old
                key in 1 hour". We updated the main app but apparently some jobs still use the old
                one and now fail with 401 api_key_expired. Can you extend the old key for a day?
                """,
                """
                Our nightly invoice sync has been failing with 401 {when}. The key ends in {key4}.
                Nothing changed on our side as far as I know.
                """,
            ),
            details=(
                "We keep the key in AWS Secrets Manager and the Lambdas read it at cold start.",
            ),
            escalations=(
                """
                Customer's 401s come from a cron host still using the key that expired after last
                week's roll; `ll keys history` confirms the roll with 1 h expiry. They ask whether
                we can re-enable the old key. Identity, please confirm it can't be done.
                """,
            ),
            evidence="rolled",
        ),
        Cause(
            "Restricted key lacked the payouts_write permission.",
            "Added the permission to the restricted key; payout service works.",
            titles=(
                "insufficient_permissions with restricted key",
                "403 permission_error on payouts endpoint",
            ),
            reports=(
                """
                We created a restricted key for our payout service and it gets 403
                insufficient_permissions on POST /v1/payouts. Which permission is missing?
                """,
            ),
            evidence="restricted",
        ),
        Cause(
            "Secret key leaked (pasted in a public CI log) and was rolled by automated leak "
            "protection, so the old key became invalid.",
            "Customer deployed the rolled key and removed it from the CI logs; reminded them never "
            "to share secret keys, including in tickets.",
            titles=(
                "All API calls failing with Invalid API Key",
                "Invalid API Key provided, but the key is correct!",
            ),
            reports=(
                """
                All calls fail with invalid_api_key. Here's what we run, the key is definitely the
                one we've always used. We're completely down.
                """,
            ),
            details=("Full key for reference: {sk}",),
            escalations=(
                """
                Customer pasted a live secret key in the ticket (redacted in the internal note,
                asked them to roll it). `ll keys history` shows the key was auto-rolled by leak
                protection after it appeared in a public CI log. Identity, please confirm and
                help with the explanation.
                """,
            ),
            evidence="leaked",
        ),
        Cause(
            "Platform requests were missing the Ledgerline-Account header, so calls ran against "
            "the platform account and objects were not found.",
            "Customer added the Ledgerline-Account header per connected account.",
            titles=("resource_missing for objects that exist",),
            reports=(
                """
                Since we moved to restricted keys per service, lookups of our merchants' customers
                fail with resource_missing, even though the customer exists in their dashboard.
                """,
            ),
            evidence="account-header",
        ),
    ),
    evidence=ev_api_key,
)


def ev_saml(c: Ctx) -> str:
    """Dashboard SSO audit log entries (JSON export) for failing SAML logins."""
    code, message = {
        "rotation": ("saml_signature_invalid", "SAMLResponse signature validation failed"),
        "skew": ("saml_assertion_expired", "NotBefore condition not met"),
        "audience": (
            "saml_audience_mismatch",
            "Audience 'https://dashboard.ledgerline.com' does not match SP entity id",
        ),
    }[c["scenario"]]
    entries = []
    for i, user in enumerate((c["email"], f"finance@{c['domain']}")):
        entry: dict[str, Any] = {
            "time": c.iso(20 - i * 2, millis=False),
            "event": "sso.login_failed",
            "user": user,
            "code": code,
            "message": message,
        }
        if c["scenario"] == "rotation":
            entry["cert_sha256_got"] = ":".join(c.hex(2).upper() for _ in range(8)) + ":..."
            entry["idp"] = c["idp"]
        if c["scenario"] == "skew":
            entry["not_before"] = c.iso(14 - i * 2, millis=False)
        entries.append(json.dumps(entry, ensure_ascii=False))
    return f"SSO audit log export ({c['account']}):\n" + "\n".join(entries)


SAML_SSO = Topic(
    key="saml-sso-failures",
    queue="identity",
    product="SSO/SAML",
    component="IdP certificates",
    count=11,
    priorities=("P2", "P2", "P3"),
    tags=("sso", "saml", "dashboard-login"),
    runbooks=("identity/saml-sso-troubleshooting",),
    titles=(
        "SSO login failing",
        "{idp} SSO broken this morning",
        "Nobody in finance can log in via SSO",
    ),
    vague=(
        "none of us can log into the dashboard with SSO since this morning. urgent, finance "
        "needs to run payouts",
        "SSO broken, nobody can log in to Ledgerline. Please help urgently!",
        "cannot login via okta/sso anymore, error page. we need access today",
    ),
    reports=(),
    details=(
        "SSO is enforced for the whole team except the owner account.",
        "We can send the SAML metadata XML if you need it.",
    ),
    escalations=(),
    causes=(
        Cause(
            "IdP signing certificate was rotated at {idp} without uploading the new certificate "
            "to Ledgerline (SAMLResponse signature validation failed).",
            "Account owner logged in with password + 2FA and uploaded the new IdP metadata; SSO "
            "works. Recommended configuring both certificates during future rotations.",
            titles=(
                "SAMLResponse signature validation failed",
                "Locked out of the dashboard after {idp} certificate rotation",
            ),
            reports=(
                """
                None of our users have been able to log in to the Ledgerline dashboard with SSO
                {when}. The error page just says "SSO login failed". Our IdP is {idp}. Our IT team
                says nothing changed, but I noticed the SAML app had a certificate notice last
                week.
                """,
                """
                Our {idp} admin rotated the SAML signing certificate as part of the yearly
                rotation and now everybody gets "SAMLResponse signature validation failed". How
                do we update the certificate on your side when nobody can log in?
                """,
            ),
            escalations=(
                """
                Whole team of {customer} locked out of the dashboard: fingerprint of the signing
                cert in the failing responses differs from the one we trust (IdP rotated). The
                account owner is on holiday and is the only non-SSO login. Need identity to
                advise on a safe path to upload the new metadata.
                """,
            ),
            evidence="rotation",
        ),
        Cause(
            "Clock drift on the on-prem ADFS server (assertions issued minutes in the future).",
            "Customer fixed NTP on the ADFS host; logins succeed.",
            titles=("SAML assertion rejected: NotBefore condition not met",),
            reports=(
                """
                Some users can log in via SSO, others get an error about the assertion not being
                valid yet. We use an on-prem ADFS server.
                """,
            ),
            evidence="skew",
        ),
        Cause(
            "SAML app was recreated at the IdP with a new entity and certificate; audience and "
            "certificate no longer matched.",
            "Updated the SSO configuration with the new app's metadata.",
            titles=("saml_audience_mismatch after moving to a new IdP tenant",),
            reports=(
                """
                We migrated to a new {idp} tenant this week and re-created the Ledgerline app
                there. Now logins fail with an audience mismatch error.
                """,
            ),
            evidence="audience",
        ),
    ),
    evidence=ev_saml,
    plans=("enterprise", "growth"),
    values={"idp": ("Okta", "Entra ID", "Google Workspace", "OneLogin", "JumpCloud")},
)


# --- topics: billing and payouts ---------------------------------------------------------------
def ev_invoice_failed(c: Ctx) -> str:
    """Invoices that failed, were cancelled or stayed in draft."""
    if c["scenario"] == "draft":
        return (
            f"{c['inv']}  status=draft  auto_advance=false  created "
            f"{c.iso(60 * 30, millis=False)}\n"
            f"in_{c.b62(24)}  status=draft  auto_advance=false  created "
            f"{c.iso(60 * 28, millis=False)}"
        )
    if c["scenario"] == "cancelled":
        return (
            f"{c['inv']}  status=open  amount_due={c['amount']}  attempt_count=4\n"
            "  last_finalization_error: invoice_payment_failed\n"
            f"  subscription {c['sub']} status=past_due -> canceled "
            f"({c.iso(60 * 24, millis=False)})\n"
            "  next_payment_attempt: null"
        )
    return (
        f"webhook invoice.payment_failed {c['evt']}\n"
        f'  "invoice": "{c["inv"]}", "billing_reason": "subscription_cycle",\n'
        '  "last_payment_error": {"code": "card_declined", "decline_code": "expired_card"},\n'
        f'  "payment_method": "pm_{c.b62(24)}"  (the old card)'
    )


INVOICE_PAYMENT_FAILED = Topic(
    key="invoice-payment-failed",
    queue="billing",
    product="Billing & Invoicing",
    component="dunning",
    count=11,
    priorities=("P3", "P3", "P2"),
    tags=("invoices", "subscriptions", "dunning"),
    runbooks=("billing/failed-invoice-payments",),
    titles=("Problem with subscription invoices", "Invoice payments failing"),
    vague=(
        "Why are our customers' subscriptions getting cancelled?? we didn't do that",
        "customers' invoices keep failing and subscriptions end up past due. what's going on?",
        "Our subscribers are being charged with old cards, or not at all. Please check.",
    ),
    reports=(),
    details=("We use Smart Retries with the default settings, I think.",),
    escalations=(),
    causes=(
        Cause(
            "Dunning settings cancelled subscriptions after the last retry and failed-payment "
            "emails were turned off.",
            "Enabled failed-payment emails with hosted update link; recreated cancelled "
            "subscriptions with backdate_start_date and no proration.",
            titles=(
                "Subscriptions cancelled without notice",
                "invoice.payment_failed for many customers",
            ),
            reports=(
                """
                Several of our members told us their subscription was cancelled without warning.
                In the dashboard the invoices show invoice_payment_failed and then the
                subscription went to canceled. We never received a notification and neither did
                they.
                """,
            ),
            escalations=(
                """
                Customer's dunning settings: cancel subscription after the last retry, customer
                emails for failed payments disabled. {count} subscriptions cancelled this month.
                Customer wants them reinstated "as if nothing happened". Billing, please advise on
                backdating.
                """,
            ),
            evidence="cancelled",
        ),
        Cause(
            "New card was attached to the customer but not set as the subscription's default "
            "payment method.",
            "Customer now sets default_payment_method after attaching; invoice paid on retry.",
            titles=("Subscription past_due although the customer updated their card",),
            reports=(
                """
                A customer updated her card on {date_prev} through our account page but her
                subscription {sub} is still past_due and the invoice {inv} keeps failing with the
                old card.
                """,
            ),
            details=(
                "Our account page uses our own card form that creates payment methods via the API.",
            ),
            evidence="default-pm",
        ),
        Cause(
            "Invoices created with auto_advance=false by the customer's integration and never "
            "finalized.",
            "Customer enabled auto_advance; finalized the stuck drafts via the API.",
            titles=("Invoices stuck in draft",),
            reports=(
                """
                Since {day} some invoices stay in draft and are never charged. We have about
                {count} of them now. Did something change with automatic finalization?
                """,
            ),
            evidence="draft",
        ),
    ),
    evidence=ev_invoice_failed,
)


def ev_proration(c: Ctx) -> str:
    """Upcoming invoice proration lines or a customer credit balance."""
    if c["scenario"] == "downgrade":
        return (
            f"Customer {c['cus']}\n"
            f"  balance: -{c['amount2']} (credit)\n"
            f"  created by: Unused time on Business after {c['date_prev']}"
        )
    return (
        f"Upcoming invoice for {c['sub']}\n"
        f"  Unused time on Pro after {c['date_prev']}          -{c['amount2']}\n"
        f"  Remaining time on Business after {c['date_prev']}   {c['amount']}\n"
        "  Business (monthly)                            next period"
    )


PRORATION = Topic(
    key="subscription-proration",
    queue="billing",
    product="Billing & Invoicing",
    component="subscriptions",
    count=8,
    priorities=("P4", "P4", "P3"),
    tags=("subscriptions", "proration"),
    runbooks=("billing/subscription-proration",),
    titles=("Question about proration", "Unexpected proration lines on invoice"),
    vague=(
        "our invoices have weird negative lines, can someone explain??",
        "Can someone explain the amount on this invoice? It's not what the plan costs.",
        "customer got charged a weird amount after changing plan. is this a bug?",
    ),
    reports=(),
    details=("We update subscriptions through the API with the Ruby gem.",),
    escalations=(),
    causes=(
        Cause(
            "Default proration_behavior=create_prorations adds upgrade prorations to the next "
            "invoice; one request used always_invoice.",
            "Walked the customer through both behaviours; they now send always_invoice for "
            "upgrades.",
            titles=(
                "Why is the upgrade amount not the full plan price?",
                "Upgrade not charged immediately",
            ),
            reports=(
                """
                A customer upgraded from Pro to Business on {date_prev} and was charged {amount}
                instead of the full Business price. Another customer who did the same got charged
                nothing until the next month. Why the difference?
                """,
            ),
            evidence="upgrade",
        ),
        Cause(
            "Downgrade created a prorated credit applied to future invoices (expected behaviour).",
            "Refunded the last payment partially and zeroed the credit balance as requested.",
            titles=("Customer has a credit balance after downgrade",),
            reports=(
                """
                One of our clients downgraded and now has a credit balance of {amount2} on their
                customer object. They want the money back, not a credit. How do we do that?
                """,
            ),
            evidence="downgrade",
        ),
        Cause(
            "Customer calculated proration per day; we prorate per second.",
            "Sent the line-by-line calculation with timestamps; customer satisfied.",
            titles=("Proration math doesn't add up",),
            reports=(
                """
                Can you explain the proration lines on this invoice? I tried to recalculate them
                per day and I'm off by a few cents.
                """,
            ),
            escalations=(
                """
                Customer disputes the proration amounts on {inv}; the numbers reproduce exactly
                with second-level proration (change at 14:32 UTC). Could billing double check
                before I send the breakdown? Customer's finance lead is quite frustrated.
                """,
            ),
            evidence="upgrade",
        ),
    ),
    evidence=ev_proration,
)


# KB gap: invoice rounding with several tax rates is documented nowhere.
def ev_tax_rounding(c: Ctx) -> str:
    """Invoice lines whose tax does not add up to the total (a KB gap)."""
    lines = []
    total = 0
    tax_total = 0
    for _ in range(c.rng.randrange(3, 6)):
        net = c.rng.randrange(333, 9999)
        rate = c.pick(("19%", "7%", "20%", "5.5%", "10%"))
        tax = round(net * float(rate.rstrip("%")) / 100 + 0.0049)
        total += net
        tax_total += tax
        lines.append(f"  {money(net, c['cur']):>12}   VAT {rate:>5}   {money(tax, c['cur']):>10}")
    shown = money(total + tax_total + 1, c["cur"])
    return (
        f"{c['inv']}\n" + "\n".join(lines) + f"\n  Sum of lines incl. tax: "
        f"{money(total + tax_total, c['cur'])}\n  Invoice total:          {shown}"
    )


INVOICE_TAX_ROUNDING = Topic(
    key="invoice-tax-rounding",
    queue="billing",
    product="Billing & Invoicing",
    component="tax",
    count=7,
    priorities=("P3", "P4", "P3"),
    tags=("invoices", "tax", "rounding"),
    runbooks=(),
    titles=(
        "Invoice total off by one cent",
        "Tax amounts on invoice don't add up",
        "Rounding difference between line items and total",
        "Our accounting software rejects Ledgerline invoices (0.01 difference)",
    ),
    vague=(
        "invoice totals are wrong by 1 cent, our accountant is not happy",
        "The VAT on your invoices is off by a cent. Our accountant keeps flagging it.",
        "invoice totals don't match the lines, 0.01 difference, please fix",
    ),
    reports=(
        """
        Invoices with items at different VAT rates have a total that is 0.01 higher than the sum
        of the line items including tax. Our accounting import rejects them because the amounts
        don't balance. Example: {inv}.
        """,
        """
        Our tax advisor noticed that the VAT shown per line on our Ledgerline invoices doesn't
        sum to the VAT total on the invoice. It's always one cent. Which one is correct for the
        tax return?
        """,
    ),
    details=(
        "We use tax rates with inclusive=false, several rates per invoice (7% and 19%).",
        "Happens on maybe 1 in 15 invoices.",
    ),
    escalations=(
        """
        Customer shows invoices where the total differs by 0.01 from the sum of line totals
        (mixed tax rates). I couldn't find anything in the KB about how we round tax (per line
        vs per invoice). Billing, can you confirm the behaviour and whether it's configurable?
        """,
    ),
    causes=(
        Cause(
            "Tax is computed on the invoice subtotal per rate and rounded once, while the line "
            "items display tax rounded per line; with several rates the two differ by up to "
            "0.01.",
            "Billing engineering confirmed the behaviour. Customer enabled the per-line rounding "
            "option (tax_rounding=line_item, beta) so the lines add up to the total.",
        ),
        Cause(
            "Per-rate rounding on the invoice total vs per-line rounding in the customer's "
            "accounting import.",
            "Explained the rounding rule; the customer adjusted the import to use the invoice "
            "tax amounts instead of recomputing them.",
        ),
    ),
    evidence=ev_tax_rounding,
    countries=("DE", "FR", "AT", "NL", "ES", "IT", "GB", "IE"),
    gap=True,
)


def ev_payout_failed(c: Ctx) -> str:
    """The failed payout object."""
    code = {
        "closed": "account_closed",
        "typo": "invalid_account_number",
        "name": "incorrect_account_holder_name",
        "suspicious": "account_closed",
    }[c["scenario"]]
    c["payout_code"] = code
    return (
        f"{c['po']}\n"
        f"  amount: {c['payout_amount']}\n"
        "  status: failed\n"
        f"  failure_code: {code}\n"
        f"  failure_message: PayoutFailed: {code}\n"
        f"  destination: ba_{c.b62(20)} (•••• {c['bank4']})\n"
        f"  arrival_date: {c.iso(60 * 24 * 3, millis=False)[:10]}"
    )


PAYOUT_FAILED = Topic(
    key="payout-failed",
    queue="billing",
    product="Payouts",
    component="bank accounts",
    count=11,
    priorities=("P2", "P2", "P3"),
    tags=("payouts", "bank-accounts"),
    runbooks=("payout-failures",),
    titles=(
        "Payout failed: {payout_code}",
        "Payout bounced, where are the funds?",
        "Our payout of {payout_amount} failed",
    ),
    vague=(
        "We didn't get paid this week. The dashboard says failed. Where is our money?",
        "Our payout failed. Why? The bank account is fine as far as we know.",
        "payout bounced back, what do we do now? need the money this week",
    ),
    reports=(
        """
        We got an email that payout {po} failed and since then no new payouts are being created.
        Our finance team needs the funds for payroll on Friday. What do we need to do?
        """,
    ),
    details=("Please call me on {phone} if anything is needed from our side.",),
    escalations=(),
    causes=(
        Cause(
            "Payout sent to the old bank account, which had been closed after the customer "
            "switched banks (account_closed).",
            "Customer set the new account as default; the failed amount was included in the "
            "next scheduled payout.",
            reports=(
                """
                Our payout {po} of {payout_amount} failed with "PayoutFailed: account_closed". We
                changed banks last month and I thought I had updated the account in the
                dashboard. Will the money be sent again automatically?
                """,
            ),
            details=("Our new IBAN is already in the dashboard, added on {date_prev}.",),
            evidence="closed",
        ),
        Cause(
            "Typo in the account number when adding the bank account (invalid_account_number).",
            "Customer re-entered the bank account; payouts resumed.",
            reports=(
                """
                The payout to our account ending {bank4} failed with invalid_account_number. We
                added this account last week. Can you retry it?
                """,
            ),
            evidence="typo",
        ),
        Cause(
            "Account holder name did not match the legal entity name (receiving bank's name "
            "check).",
            "Customer corrected the account holder name; manual payout sent.",
            titles=("incorrect_account_holder_name on our payout",),
            reports=(
                """
                Our payout failed with incorrect_account_holder_name. Our bank says the account is
                fine. The account is in the name of our holding company, which owns the shop.
                """,
            ),
            evidence="name",
        ),
        Cause(
            "Bank account had been changed shortly before the payout from an unknown IP; payout "
            "held pending verification.",
            "Account-ops verified the change with the registered director by phone; payouts "
            "resumed to the verified account.",
            ("account-ops/kyc-verification",),
            escalations=(
                """
                Payout {po} failed ({payout_code}); the bank account was changed 2 days before
                from an IP we haven't seen on this account. Customer says it was their new CFO.
                Not acting on the payout until account-ops verifies. Billing: FYI, and please hold
                manual payouts.
                """,
            ),
            evidence="suspicious",
        ),
    ),
    evidence=ev_payout_failed,
)


def ev_payout_delay(c: Ctx) -> str:
    """Balance or payout schedule explaining a late payout."""
    if c["scenario"] == "reserve":
        return (
            "Balance\n"
            f"  available:  {c['amount2']}\n"
            f"  pending:    {c['payout_amount']}\n"
            f"  reserve:    -{c['amount']}  (rolling reserve 10%, 90 days, reason: "
            "elevated_dispute_rate)"
        )
    if c["scenario"] == "negative":
        return (
            "Balance\n"
            f"  available:  -{c['amount2']}\n"
            f"  pending:    {c['amount']}\n"
            "  Payouts: none scheduled (balance below zero)"
        )
    delay = "7 days (new account)" if c["scenario"] == "new-account" else "2 days"
    return (
        f"Payout schedule: daily, delay {delay}\n"
        f"Next payout: {c.iso(-60 * 24 * 2, millis=False)[:10]}  (estimated {c['payout_amount']})"
    )


PAYOUT_DELAYED = Topic(
    key="payout-delayed",
    queue="billing",
    product="Payouts",
    component="schedule",
    count=11,
    priorities=("P3", "P2", "P4"),
    tags=("payouts", "reserves", "balance"),
    runbooks=("payouts/payout-delays-and-reserves",),
    titles=("Payout didn't arrive today", "Expected payout missing from the schedule"),
    vague=(
        "where is our payout??? it always comes on tuesdays",
        "Hello, we have not received money from Ledgerline for a week, please explain",
        "Our payout is late. Can you tell us when it will arrive?",
    ),
    reports=(
        """
        We normally get a payout every day but nothing has arrived since {day}. The balance shows
        {payout_amount} as pending. We didn't get any email about a change.
        """,
    ),
    details=("Cash flow is tight for us this month, so any help is appreciated.",),
    escalations=(),
    causes=(
        Cause(
            "New account: 7-day payout delay for the first 30 days.",
            "Explained the schedule with exact dates; payouts arrived as scheduled.",
            titles=("Balance pending for 7 days",),
            reports=(
                """
                We just started on Ledgerline and our first payout is still not here after a
                week. Is that normal?
                """,
            ),
            evidence="new-account",
        ),
        Cause(
            "Balance went negative after refunds and dispute debits, so no payout was created.",
            "Balance recovered with new sales; payouts resumed two days later.",
            details=("We had a lot of refunds after a product recall, if that matters.",),
            evidence="negative",
        ),
        Cause(
            "Rolling reserve applied by Risk because of an elevated dispute rate.",
            "Explained reserve and release dates; account-ops reviewed and reduced the reserve to "
            "5%.",
            ("account-ops/kyc-verification",),
            titles=("Why are our funds on hold?", "Rolling reserve on our account, why?"),
            reports=(
                """
                There's a new "reserve" line on our balance and part of our money is being held.
                Nobody told us about this. Why is it there and when do we get the money?
                """,
            ),
            escalations=(
                """
                Customer asks for the reserve to be lifted. Reserve reason elevated_dispute_rate
                (1.4% over 60 days, now down to 0.6%). Billing/account-ops: can we review early?
                They are {plan} and have been with us for 3 years.
                """,
            ),
            evidence="reserve",
        ),
        Cause(
            "Bank holiday in the payout currency's country delayed the payout by one business day.",
            "Payout arrived the next business day; no action needed.",
            evidence="holiday",
        ),
        Cause(
            "24-hour security hold after the bank account was changed.",
            "Explained the hold; payout released automatically.",
            details=("We changed our bank account in the dashboard on Monday.",),
            evidence="hold",
        ),
    ),
    evidence=ev_payout_delay,
)


# --- topics: reporting and data exports --------------------------------------------------------
def ev_export_timeout(c: Ctx) -> str:
    """A failed export job with ExportJobTimeout."""
    report = {
        "too-large": "balance_change_from_activity.itemized.3",
        "backlog": "balance.summary.1",
        "columns": "charges.all_columns",
    }[c["scenario"]]
    interval = (
        f"{c['export_from']} .. {c['export_to']}"
        if c["scenario"] == "too-large"
        else f"{c.iso(60 * 48, millis=False)[:10]} .. {c.iso(60 * 24, millis=False)[:10]}"
    )
    if c.chance(0.5):
        return (
            f"{c['exp']}\n"
            f"  report_type: {report}\n"
            f"  interval: {interval}\n"
            "  status: failed\n"
            "  error: ExportJobTimeout: export exceeded 1800s execution limit (stage=query)"
        )
    return (
        f"GET /v1/reporting/export_jobs/{c['exp']} (request {c['req']})\n"
        f'{{"id": "{c["exp"]}", "status": "failed", "report_type": "{report}", '
        '"error": {"code": "ExportJobTimeout", "message": "export exceeded 1800s execution '
        'limit"}}'
    )


EXPORT_TIMEOUT = Topic(
    key="export-job-timeout",
    queue="data-platform",
    product="Reporting & Data Exports",
    component="exports",
    count=10,
    priorities=("P3", "P3", "P2"),
    tags=("exports", "reporting", "timeouts"),
    runbooks=("reporting/export-job-timeouts",),
    titles=("Export job failed: ExportJobTimeout", "Export keeps failing"),
    vague=(
        "the export keeps failing. our auditors need the data by friday!!",
        "Export never finishes, always fails. We need this data!",
        "Hi, can't download our transactions, the export fails after a long time.",
    ),
    reports=(),
    details=(
        "We process about {count}k transactions a month.",
        "We can't use the API for this, our finance team only works with CSV.",
    ),
    escalations=(),
    causes=(
        Cause(
            "Export covered 12+ months of itemized data (>5M rows) and exceeded the 30-minute "
            "limit.",
            "Customer split the export into monthly intervals; all of them completed.",
            titles=("Can't export a full year of transactions",),
            reports=(
                """
                Our accountant needs all balance transactions from {export_from} to {export_to}
                for the annual audit. Every time we start the export it fails after about half an
                hour with ExportJobTimeout.
                """,
            ),
            evidence="too-large",
        ),
        Cause(
            "Export worker backlog after warehouse maintenance made small scheduled exports time "
            "out.",
            "Data platform scaled the export workers; failed scheduled exports re-run with ll "
            "exports rerun.",
            titles=("Scheduled export missing for the last 3 days",),
            reports=(
                """
                Our daily scheduled export to SFTP didn't arrive on the last three days. The
                dashboard shows the jobs as failed with ExportJobTimeout, even though the daily
                volume is small.
                """,
            ),
            escalations=(
                """
                Several customers today with ExportJobTimeout on small daily exports (<50k rows).
                Looks like an export worker backlog after last night's warehouse maintenance.
                Data-platform, can you check the queue? Example job {exp}.
                """,
            ),
            evidence="backlog",
        ),
        Cause(
            "All-columns itemized report with heavy metadata columns exceeded the limit.",
            "Reduced the column set to what finance needs; export completes in 6 minutes.",
            titles=("ExportJobTimeout on the all-columns charges report",),
            reports=(
                """
                We export the charges report with all columns every month. Since this month it
                fails with a timeout. Did the export limits change? We added a lot of metadata
                fields to our charges recently.
                """,
            ),
            evidence="columns",
        ),
    ),
    evidence=ev_export_timeout,
    values={
        "export_from": ("2025-01-01", "2025-07-01", "2025-10-01"),
        "export_to": ("2025-12-31", "2026-06-30", "2026-09-30"),
    },
)


def ev_recon(c: Ctx) -> str:
    """The mismatch between a report and a bank deposit or invoice."""
    if c["scenario"] == "fees":
        return (
            f"Balance report {c['prev_month']}: fees {c['amount']}\n"
            f"Ledgerline invoice {c['prev_month']}: {c['amount2']}"
        )
    return (
        f"Payout {c['po']}  bank deposit: {c['payout_amount']}\n"
        f"Reconciliation report ({c['prev_month']}):  sum(net) is {c['amount2']} higher\n"
        "Difference seems to be transactions from the last day of the month."
    )


PAYOUT_RECON = Topic(
    key="payout-reconciliation",
    queue="data-platform",
    product="Reporting & Data Exports",
    component="reconciliation",
    count=8,
    priorities=("P3", "P4", "P3"),
    tags=("reconciliation", "reporting", "payouts"),
    runbooks=("reporting/payout-reconciliation",),
    titles=("Reconciliation report doesn't match bank deposit", "Payout total vs report total off"),
    vague=(
        "the numbers in your report don't match our bank. which one is right?",
        "Your report and our bank statement don't agree. Can you explain the difference?",
        "reconciliation doesn't balance for last month, please help",
    ),
    reports=(
        """
        Our reconciliation report total for {prev_month} is off by {amount2} compared to what
        arrived in our bank. Our auditor wants an explanation before we close the books.
        """,
    ),
    details=("Our ERP is SAP and the import is automated.",),
    escalations=(),
    causes=(
        Cause(
            "Report in the account's reporting time zone (UTC) while the customer books in "
            "{tz}; month-end transactions fell into different months.",
            "Customer changed the reporting time zone and re-ran the report for the month.",
            titles=("Transactions appear in the wrong month",),
            reports=(
                """
                Some transactions from the last day of {prev_month} show up in the next month's
                report. Our accounting system uses {tz}. Is the report in UTC?
                """,
            ),
            escalations=(
                """
                Customer's report totals differ from bank deposits by a few hundred per month.
                Their reporting timezone is UTC while they book in {tz}. I think that's all, but
                they want data-platform to confirm that the report itself is correct for payout
                {po}.
                """,
            ),
            evidence="tz",
        ),
        Cause(
            "Customer compared a by-creation-date balance report with by-payout bank deposits.",
            "Walked them through the payout reconciliation report per payout; totals match.",
            details=("We reconcile by month, not by payout.",),
            evidence="by-payout",
        ),
        Cause(
            "Monthly fees are invoiced separately and deducted as their own balance transactions.",
            "Explained fee booking; customer books the invoice and the fee transactions once.",
            titles=("Fees in the report don't match your invoice",),
            reports=(
                """
                The fees in the balance report don't match the fees on the monthly invoice from
                Ledgerline. Which one should we book?
                """,
            ),
            evidence="fees",
        ),
    ),
    evidence=ev_recon,
    values={
        "tz": ("Europe/Berlin", "America/New_York", "Europe/London", "Asia/Tokyo"),
    },
)


# KB gap: CSV encoding problems in Excel are documented nowhere.
def ev_csv_encoding(c: Ctx) -> str:
    """CSV rows as Excel shows them: UTF-8 read as Windows-1252 (a KB gap)."""
    good = c["mojibake_src"]
    bad = good.encode("utf-8").decode("cp1252", errors="replace")
    c["mojibake_short"] = bad
    return (
        "id,created,amount,currency,customer_name,description\n"
        f"ch_{c.b62(24)},{c.iso(60 * 30, millis=False)},{c['amount_minor']},{c['cur']},"
        f'"{bad}","Order {c["order"]}"\n'
        f"ch_{c.b62(24)},{c.iso(60 * 29, millis=False)},{c['amount2_minor']},{c['cur']},"
        f'"{c["mojibake_src2"].encode("utf-8").decode("cp1252", errors="replace")}",'
        f'"Order {int(c["order"]) + 7}"\n'
        f'(should be "{good}")'
    )


CSV_ENCODING = Topic(
    key="csv-export-encoding",
    queue="data-platform",
    product="Reporting & Data Exports",
    component="CSV exports",
    count=8,
    priorities=("P4", "P3", "P4"),
    tags=("exports", "csv", "encoding"),
    runbooks=(),
    titles=(
        "Export CSV shows garbled characters",
        "Umlauts broken in transaction export",
        "Special characters wrong in reports opened in Excel",
        "Names like '{mojibake_short}' in our CSV export",
    ),
    vague=(
        "your csv export breaks all our customer names with accents. please fix",
        "The exported CSV has weird characters instead of accents. Please fix your export.",
        "export file shows Ã© and Ã¼ everywhere. is the data corrupted?",
    ),
    reports=(
        """
        When we open the transactions export in Excel, every name with an accent is broken:
        "{mojibake_short}" instead of "{mojibake_src}". Our bookkeeper can't work with it. Google
        Sheets shows it correctly, strangely.
        """,
        """
        Since we started exporting payouts as CSV for our accounting, all umlauts (ä, ö, ü, ß)
        look like garbage in Excel. Is there a setting to export in a different encoding?
        """,
        """
        The customer_name column in our export contains things like "{mojibake_short}". Is the
        data corrupted on your side?
        """,
    ),
    details=(
        "We use Excel 365 on Windows, German locale.",
        "The same happens with the scheduled SFTP export.",
    ),
    escalations=(
        """
        Customer reports mojibake in CSV exports opened in Excel. The file itself is valid UTF-8
        (checked with `file -i`), Excel just doesn't detect it. I didn't find anything in the KB
        about encoding or a BOM option. Data-platform: is there an official workaround?
        """,
    ),
    causes=(
        Cause(
            "CSV exports are UTF-8 without a byte-order mark; Excel on Windows opens them as "
            "Windows-1252, garbling non-ASCII characters.",
            "Showed the customer how to import via Data > From Text/CSV with UTF-8; data "
            "platform added a BOM option to the backlog.",
        ),
        Cause(
            "UTF-8 export without BOM opened directly in Excel.",
            "Customer switched to the new 'Excel-compatible (UTF-8 with BOM)' format option "
            "(released in October); names display correctly.",
            available_from=datetime(2026, 10, 14, tzinfo=UTC),
        ),
    ),
    evidence=ev_csv_encoding,
    values={
        "mojibake_src": ("Café Lumière", "Müller & Söhne", "Zoë Brønstad", "José Peña"),
        "mojibake_src2": ("Ångström Design", "François Lefèvre", "Jürgen Weiß"),
    },
    countries=("DE", "FR", "AT", "ES", "SE", "DK", "NO", "FI", "CH", "CA", "NL", "IT"),
    gap=True,
)


# --- topics: reliability -----------------------------------------------------------------------
def ev_rate_limit(c: Ctx) -> str:
    """429 responses and sync-worker logs."""
    if c["scenario"] == "lock":
        return (
            f"HTTP/1.1 429 Too Many Requests\nRequest-Id: {c['req']}\n\n"
            '{"error": {"type": "rate_limit_error", "code": "lock_timeout", "message": "This '
            f"object cannot be accessed right now because another API request or Ledgerline "
            f'process is currently accessing it ({c["cus"]})."}}}}'
        )
    if c["scenario"] == "batch":
        n = c.rng.randrange(800, 9000)
        return (
            f"{c.iso(120)} sync-worker [{c['host']}] starting catalogue sync ({n} customers)\n"
            f"{c.iso(118.1)} sync-worker [{c['host']}] ledgerline.error.RateLimitError: "
            "HTTP 429 rate_limit_exceeded: Too many requests. Please retry after 1 second.\n"
            f"{c.iso(118.08)} sync-worker [{c['host']}] retrying immediately (attempt 2)\n"
            f"{c.iso(118.06)} sync-worker [{c['host']}] ledgerline.error.RateLimitError: "
            "HTTP 429 rate_limit_exceeded"
        )
    return (
        f"HTTP/1.1 429 Too Many Requests\nRetry-After: 1\nRequest-Id: {c['req']}\n\n"
        '{"error": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": '
        '"Too many requests. Please retry after 1 second."}}'
    )


RATE_LIMITS = Topic(
    key="rate-limit-429",
    queue="reliability",
    product="API Gateway",
    component="rate limiting",
    count=13,
    priorities=("P2", "P3", "P3"),
    tags=("rate-limits", "http-429"),
    runbooks=("gateway/rate-limits",),
    titles=("Too many requests errors", "HTTP 429 from the API"),
    vague=(
        "we keep getting 429 errors. can you raise our limit please",
        "Your API is blocking us with 'too many requests'. We pay for this service!",
        "We're hitting rate limits all the time now. Can you increase them?",
    ),
    reports=(),
    details=("Requests come from {ip} and {ip2}.",),
    escalations=(),
    causes=(
        Cause(
            "Nightly sync with 50 workers and immediate retries exceeded the 100 rps write limit.",
            "Customer added exponential backoff honouring Retry-After and reduced concurrency to "
            "20 workers; sync completes.",
            titles=("HTTP 429 rate_limit_exceeded during nightly sync",),
            reports=(
                """
                Our nightly job syncs customer data and since we grew past {count}k customers it
                fails halfway with HTTP 429 rate_limit_exceeded. The job runs with 50 parallel
                workers.
                """,
            ),
            details=("Our retry logic retries immediately, up to 10 times.",),
            evidence="batch",
        ),
        Cause(
            "Concurrent updates to the same customer object caused lock_timeout 429s.",
            "Customer serialises writes per object id; errors gone.",
            titles=("lock_timeout errors when updating customers",),
            reports=(
                """
                Updating customers in bulk returns 429 with code lock_timeout, even though we're
                only sending about 20 requests per second. Many of the updates are for the same
                customer.
                """,
            ),
            evidence="lock",
        ),
        Cause(
            "Legitimate seasonal peak above the default limit.",
            "Reliability approved a temporary increase to 300 rps for 26 Nov - 1 Dec.",
            titles=("Need a rate limit increase for Black Friday",),
            reports=(
                """
                We're preparing for Black Friday and expect about 3x our normal traffic, peaking
                around 250 write requests per second. Can we get a temporary limit increase for
                27-30 November? In last week's load test we already hit 429s.
                """,
            ),
            escalations=(
                """
                Rate limit increase request from {customer}: peak 250 write rps over 27-30 Nov,
                currently 100. Traffic pattern looks legitimate (checkout + subscriptions).
                Reliability, please review; customer needs an answer this week.
                """,
            ),
            evidence="peak",
            available_from=datetime(2026, 10, 1, tzinfo=UTC),
        ),
        Cause(
            "Stale custom override (40 rps) left on the account from a 2025 abuse investigation.",
            "Reliability removed the override; default limits apply again.",
            titles=("Rate limited at much lower volume than documented?",),
            reports=(
                """
                We get 429 rate_limit_exceeded at around 40 requests per second. Your docs say the
                limit is 100 per second. Is there a different limit on our account?
                """,
            ),
            escalations=(
                """
                Customer is throttled at ~40 rps according to `ll ratelimit show`, below the
                documented 100. Could there be a stale override on the account?
                """,
            ),
            evidence="override",
        ),
    ),
    evidence=ev_rate_limit,
)


def ev_gateway_timeout(c: Ctx) -> str:
    """502/504 responses, slow-call logs and latency numbers."""
    if c["scenario"] == "expand":
        return (
            "GET /v1/charges?limit=100&expand[]=data.customer&expand[]=data.invoice"
            "&expand[]=data.balance_transaction\n"
            f"-> 504 Gateway Timeout after 30.0s (request {c['req']})\n"
            '{"error": {"type": "api_error", "code": "gateway_timeout"}}'
        )
    if c["scenario"] == "pop":
        return (
            f"{c.iso(44)} WARN http-client [{c['host']}] GET https://api.ledgerline.com/v1/"
            "invoices took 18421ms\n"
            f"{c.iso(40)} ERROR http-client [{c['host']}] 502 Bad Gateway "
            f"(request {c['req']}, edge {c['pop']})\n"
            f"{c.iso(37)} ERROR http-client [{c['host']}] 504 Gateway Timeout "
            f"(request {c['req2']}, edge {c['pop']})"
        )
    return (
        f"{c.iso(15)} ERROR {c['host']} ReadTimeout: GET https://api.ledgerline.com/v1/invoices"
        "?limit=100 (read timeout=10)\n"
        f"our side: p50 310 ms, p95 4.8 s, p99 12 s for list calls; example {c['req']}"
    )


GATEWAY_TIMEOUTS = Topic(
    key="gateway-504-latency",
    queue="reliability",
    product="API Gateway",
    component="latency",
    count=10,
    priorities=("P2", "P3", "P2"),
    tags=("latency", "5xx", "gateway"),
    runbooks=("gateway/gateway-timeouts-and-latency",),
    titles=("API very slow today", "Timeouts from api.ledgerline.com"),
    vague=(
        "Your API is super slow today, everything takes seconds. Is something going on?",
        "getting lots of 504s from your API today. whats going on",
        "API responses super slow since this morning, some time out. Please check.",
    ),
    reports=(),
    details=("We're on the {region} region.",),
    escalations=(),
    causes=(
        Cause(
            "List requests with three expand[] parameters and limit=100 exceeded the 30s budget "
            "for list endpoints.",
            "Customer reduced page size to 25 and fetches expanded objects only when needed; "
            "no more 504s.",
            titles=("504 Gateway Timeout on list charges", "Timeouts when listing with expand"),
            reports=(
                """
                Our reporting job lists charges with expand[] for customer, invoice and balance
                transaction and since {day} it gets 504 Gateway Timeout on roughly every third
                page.
                """,
            ),
            evidence="expand",
        ),
        Cause(
            "Degraded edge POP ({pop}) with packet loss to the upstream; reliability drained it.",
            "POP drained and traffic shifted; customer confirmed latency back to normal.",
            titles=(
                "Intermittent 502/504 from api.ledgerline.com",
                "p99 latency jumped since this morning",
            ),
            reports=(
                """
                We see intermittent 502 and 504 responses from api.ledgerline.com {when}.
                The status page shows everything green. Several request ids below.
                """,
            ),
            escalations=(
                """
                Three accounts in the last hour with 502/504 concentrated on edge {pop}. Nothing
                on status page yet. Reliability, can you check the POP? Example requests {req},
                {req2}.
                """,
            ),
            evidence="pop",
        ),
        Cause(
            "Client timeout (10 s) shorter than legitimate response time of large list calls.",
            "Customer increased the timeout for list calls and paginates with starting_after.",
            titles=("ReadTimeout on invoice list calls",),
            reports=(
                """
                Our invoice sync times out on some list calls. Our HTTP client timeout is 10
                seconds. Did the API get slower?
                """,
            ),
            evidence="client-timeout",
        ),
    ),
    evidence=ev_gateway_timeout,
)


INCIDENT_EU = datetime(2026, 6, 17, 9, 12, tzinfo=UTC)
INCIDENT_GLOBAL = datetime(2026, 9, 9, 14, 26, tzinfo=UTC)


def ev_incident(c: Ctx) -> str:
    """503/502 errors during a platform incident."""
    if c.chance(0.5):
        return (
            f"{c.iso(6)} ERROR {c['host']} POST /v1/payment_intents -> 503 "
            '{"error": {"type": "api_error", "code": "service_unavailable", "message": "The '
            'service is temporarily unavailable. Please retry."}} request_id=' + c["req"] + "\n"
            f"{c.iso(5)} ERROR {c['host']} POST /v1/payment_intents -> 503 service_unavailable "
            f"request_id={c['req2']}"
        )
    return (
        "curl: (28) Operation timed out after 30000 milliseconds\n"
        f"{c.iso(4)} ERROR checkout: 502 Bad Gateway from api.ledgerline.com "
        f"(edge {c['pop']})\n"
        f"{c.iso(3)} ERROR checkout: 503 service_unavailable (request {c['req']})"
    )


INCIDENT_OUTAGE = Topic(
    key="platform-incident-5xx",
    queue="reliability",
    product="Status/Incidents",
    component="outage",
    count=14,
    priorities=("P1", "P1", "P2"),
    tags=("incident", "5xx", "outage"),
    runbooks=("incidents/major-incident-response", "general/severity-and-escalation"),
    titles=(
        "API down?",
        "503 service_unavailable on all requests",
        "Checkout not loading, is Ledgerline down?",
        "Payments failing with 503",
        "Everything failing for the last 10 minutes",
        "URGENT: cannot take payments",
    ),
    vague=(
        "is ledgerline down??? nothing works",
        "PAYMENTS DOWN. please call {phone} immediately",
        "We can't take any payments right now. Is there an outage?",
    ),
    reports=(
        """
        Since about {time} every payment attempt fails with 503 service_unavailable. The status
        page doesn't show anything yet. This is our busiest hour. Please confirm whether there's
        an incident.
        """,
        """
        All API calls from our servers return 502/503 for the last 10 minutes. Dashboard is also
        very slow. Is this on your side?
        """,
    ),
    details=("We're in {region}.",),
    escalations=(
        """
        Third P1 in 10 minutes with 503 service_unavailable, all {region}. Paged IC. Linking this
        case to the incident. Customer {customer} fully down.
        """,
    ),
    causes=(
        Cause(
            "INC-2026-0617: eu-west primary database failover took 38 minutes; API returned 503 "
            "for eu-west accounts.",
            "Linked to INC-2026-0617. Confirmed recovery with customer; advised retrying failed "
            "requests with idempotency keys. Post-incident report sent.",
            available_from=INCIDENT_EU - timedelta(hours=1),
            available_until=INCIDENT_EU + timedelta(days=1),
        ),
        Cause(
            "INC-2026-0909: faulty gateway configuration push caused 502/503 globally for 22 "
            "minutes.",
            "Linked to INC-2026-0909. Customer confirmed errors stopped after rollback; SLA "
            "credit request forwarded to account-ops.",
            available_from=INCIDENT_GLOBAL - timedelta(hours=1),
            available_until=INCIDENT_GLOBAL + timedelta(days=1),
        ),
    ),
    evidence=ev_incident,
    bursts=((INCIDENT_EU, 0.55, ("eu-west",)), (INCIDENT_GLOBAL, 0.45, ())),
    styles=(45, 30, 10, 15),
)


# --- topics: account operations ----------------------------------------------------------------
def ev_kyc(c: Ctx) -> str:
    """account_restricted errors and the account's verification requirements."""
    if c["scenario"] == "threshold" and c.chance(0.6):
        return (
            f"POST /v1/payment_intents -> 400 (request {c['req']})\n"
            '{"error": {"type": "invalid_request_error", "code": "account_restricted", '
            '"message": "account_restricted: requirements.past_due. This account cannot create '
            'charges until the required information is provided."}}'
        )
    error = {
        "threshold": "",
        "name": "verification_document_name_mismatch",
        "stuck": "",
    }[c["scenario"]]
    lines = [
        "requirements:",
        "  currently_due: [company.tax_id, person_owner.verification.document]",
        "  past_due: [person_owner.verification.document]",
        "  disabled_reason: requirements.past_due",
    ]
    if error:
        lines += [
            "  errors:",
            "    - requirement: person_owner.verification.document",
            f"      code: {error}",
        ]
    if c["scenario"] == "stuck":
        lines.append(
            "  pending_verification: [person_owner.verification.document]  "
            f"(since {c['date_prev']})"
        )
    return "\n".join(lines)


KYC = Topic(
    key="kyc-verification",
    queue="account-ops",
    product="Dashboard",
    component="account verification",
    count=10,
    priorities=("P2", "P3", "P2"),
    tags=("kyc", "verification", "compliance"),
    runbooks=("account-ops/kyc-verification",),
    titles=("Account restricted: requirements.past_due", "Payouts disabled, verification needed"),
    vague=(
        "our account is blocked??? we can't take payments. we sent all documents already",
        "Hi, the dashboard says 'action required' but I don't understand what you need.",
        "Why is my account restricted? I uploaded everything you asked for.",
    ),
    reports=(),
    details=("You can reach me on {phone}.", "We're losing sales every day this continues."),
    escalations=(),
    causes=(
        Cause(
            "Volume threshold triggered additional verification; requirements became past due "
            "and charges were restricted.",
            "Customer uploaded the tax ID and owner document via the Dashboard; restriction "
            "lifted within minutes, held payouts released.",
            titles=("Why do you need more information about our company?",),
            reports=(
                """
                The dashboard asks for our company's tax ID and the owner's ID again and since
                this morning our payments fail with account_restricted. We've been customers for
                three years. Why now? Our volume did grow a lot this year.
                """,
            ),
            evidence="threshold",
        ),
        Cause(
            "Document rejected because the name did not match the company registry entry.",
            "Customer uploaded a document matching the registry; verified the next day.",
            titles=("Document rejected: name mismatch",),
            reports=(
                """
                Our verification document was rejected with "name mismatch". The passport says
                {contact}, the company registry lists the same name without the middle name. What
                should we upload instead? I can email you a copy of the passport if that's
                faster.
                """,
            ),
            evidence="name",
        ),
        Cause(
            "Manual review stuck in the review queue beyond SLA.",
            "Escalated to Risk & Compliance ops; review completed the same day.",
            titles=("Verification under review for 2 weeks",),
            reports=(
                """
                We uploaded the passport of our director two weeks ago and it still says "under
                review". Meanwhile our payouts are on hold. How long does this take?
                """,
            ),
            escalations=(
                """
                Manual document review for {account} pending 7 business days, beyond SLA.
                Customer restricted (requirements.past_due) since {day}, payouts held.
                Account-ops, please prioritise; customer has been polite but is getting
                desperate.
                """,
            ),
            evidence="stuck",
        ),
    ),
    evidence=ev_kyc,
)


def ev_dashboard_access(c: Ctx) -> str:
    """Dashboard errors when inviting or managing team members."""
    if c["scenario"] == "invite":
        return f"Invite link error: invite_expired (sent {c['date_prev']}, valid for 7 days)"
    return (
        f"Error when inviting {c['first'].lower()}@{c['domain']}: role_insufficient: Only "
        "Administrators can manage team members"
    )


DASHBOARD_ACCESS = Topic(
    key="dashboard-access",
    queue="account-ops",
    product="Dashboard",
    component="team access",
    count=10,
    priorities=("P3", "P2", "P4"),
    tags=("dashboard", "access", "team"),
    runbooks=("account-ops/dashboard-access-recovery",),
    titles=("Can't manage our team in the dashboard", "Dashboard access problem"),
    vague=(
        "I can't add my colleague to the dashboard, it says I'm not allowed. I'm the manager!",
        "We can't get into our Ledgerline account anymore, the admin left. What do we do?",
        "need help with dashboard access for our team, invites not working",
    ),
    reports=(),
    details=("My email is {email} and my phone is {phone}.",),
    escalations=(),
    causes=(
        Cause(
            "Account owner left the company; no remaining administrator.",
            "Verified the requester (director letter, ID via secure link, callback on the "
            "registered number); ownership transferred after the 48-hour notice period.",
            titles=(
                "Owner left the company, can't access dashboard",
                "Need to transfer account ownership",
            ),
            reports=(
                """
                The person who opened our Ledgerline account left the company in {prev_month} and
                we can't reach him. Nobody else is an administrator. How do we transfer the
                account to me? I'm the new {title}.
                """,
            ),
            details=("We can send a letter from our director if needed.",),
            escalations=(
                """
                Ownership transfer request for {account}. Requester provided a signed letter from
                a director listed in the registry; callback on the registered number done.
                Account-ops, please run the transfer.
                """,
            ),
            evidence="owner",
        ),
        Cause(
            "Invite expired after 7 days; requester's role could not resend invites.",
            "An administrator resent the invite; explained roles.",
            titles=("Team invite expired", "role_insufficient when adding a team member"),
            reports=(
                """
                Our new accountant's invite expired before she could accept it and I can't find a
                way to resend it. My role is Developer.
                """,
            ),
            evidence="invite",
        ),
        Cause(
            "Only other administrator removed by mistake.",
            "Remaining owner re-added the administrator after we explained the team settings.",
            titles=("Admin removed by mistake",),
            reports=(
                """
                I accidentally removed our only other administrator while cleaning up old users.
                Can you restore her access?
                """,
            ),
            evidence="removed",
        ),
    ),
    evidence=ev_dashboard_access,
)


# KB gap: SMS one-time codes not delivered to UK/IE numbers.
def ev_sms(c: Ctx) -> str:
    """Login attempts whose SMS code never arrived (a KB gap)."""
    irish = c["phone"].startswith("+353")
    c["carrier"] = c.pick(
        ("Three Ireland", "Vodafone Ireland", "Eir") if irish else ("Vodafone UK", "EE", "O2 UK")
    )
    return (
        f"Login attempt {c.iso(25, millis=False)}: 'We sent a code to {c['phone_masked']}'\n"
        f"Resend at {c.iso(22, millis=False)}, {c.iso(15, millis=False)}: no SMS received\n"
        f"Carrier: {c['carrier']}"
    )


SMS_2FA = Topic(
    key="sms-2fa-delivery",
    queue="account-ops",
    product="Dashboard",
    component="two-factor authentication",
    count=8,
    priorities=("P3", "P2", "P3"),
    tags=("2fa", "sms", "login"),
    runbooks=(),
    titles=(
        "Not receiving 2FA SMS codes",
        "SMS verification code never arrives (UK number)",
        "Can't log in, no text message from Ledgerline",
        "2FA text messages delayed by hours",
    ),
    vague=(
        "i don't get the sms code to log in. tried 5 times. my number is {phone}",
        "No SMS codes arriving for dashboard login. I'm locked out. Please help.",
        "the login text message never comes. tried many times today",
    ),
    reports=(
        """
        Since {day} I don't receive the SMS code when logging in to the dashboard. My number is
        {phone} ({carrier}). Other services' codes arrive fine. I'm locked out and need to
        approve a refund.
        """,
        """
        Two people in our team with Irish and UK mobile numbers haven't received login codes by
        SMS for a few days. Colleagues with authenticator apps are fine. Did something change
        with your SMS provider?
        """,
        """
        The login SMS arrives hours later, long after the code has expired. Phone is {phone}.
        """,
    ),
    details=(
        "Please don't disable 2FA on my account, I just need the codes to arrive.",
        "We tried two different phones on the same network.",
    ),
    escalations=(
        """
        Fourth SMS 2FA non-delivery report this month, all UK/IE mobile numbers. No KB article on
        SMS delivery issues. Account-ops: is there a known issue with the SMS provider? User
        {contact} ({phone}) locked out.
        """,
    ),
    causes=(
        Cause(
            "UK/IE carriers filtered SMS from the unregistered alphanumeric sender ID "
            "'Ledgerline' after a carrier policy change.",
            "Helped the user switch to an authenticator app after identity verification; SMS "
            "provider re-registered the sender ID.",
        ),
        Cause(
            "Carrier-level delay on the SMS route to {carrier} numbers.",
            "User switched to voice-call codes temporarily; delivery normal again after the "
            "provider changed routes.",
        ),
    ),
    evidence=ev_sms,
    countries=("GB", "IE"),
    gap=True,
)


TOPICS: tuple[Topic, ...] = (
    IDEMPOTENCY,
    CARD_DECLINES,
    DUPLICATE_CHARGES,
    REFUNDS,
    THREE_DS,
    ZERO_DECIMAL_AMOUNTS,
    DISPUTES,
    WEBHOOK_DELIVERY,
    WEBHOOK_SIG_BODY,
    WEBHOOK_ORDERING,
    SECRET_ROTATION_SPIKE,
    IOS_APPLE_PAY,
    CHECKOUT_JS_CSP,
    JAVA_TLS,
    PYTHON_CONNECTION,
    NODE_V9,
    ANDROID_3DS_CRASH,
    OAUTH_INVALID_GRANT,
    API_KEY_ERRORS,
    SAML_SSO,
    INVOICE_PAYMENT_FAILED,
    PRORATION,
    INVOICE_TAX_ROUNDING,
    PAYOUT_FAILED,
    PAYOUT_DELAYED,
    EXPORT_TIMEOUT,
    PAYOUT_RECON,
    CSV_ENCODING,
    RATE_LIMITS,
    GATEWAY_TIMEOUTS,
    INCIDENT_OUTAGE,
    KYC,
    DASHBOARD_ACCESS,
    SMS_2FA,
)
GAP_TOPICS = tuple(t.key for t in TOPICS if t.gap)
SPIKE_TOPICS = tuple(t.key for t in TOPICS if t.spike)


# --- generic prose -----------------------------------------------------------------------------
GREETINGS = (
    "Hi,",
    "Hello,",
    "Hi team,",
    "Hi Ledgerline support,",
    "Hello Ledgerline team,",
    "Hey,",
    "Good morning,",
    "Hi there,",
    "Dear Support,",
    "Hi all,",
    "",
)
URGENCY = {
    "P1": (
        "This is affecting all of our customers right now. Please call me on {phone}.",
        "We are losing sales every minute this goes on. Please escalate.",
        "Production is down for us. Treat as urgent please.",
    ),
    "P2": (
        "This is blocking our live checkout, so we'd appreciate a quick look.",
        "It's impacting real customers, so as soon as you can please.",
        "We have a release freeze until this is understood.",
        "Could someone call me on {phone}? It's easier to explain on the phone.",
    ),
    "P3": (
        "Not an emergency but we'd like to understand it before the weekend.",
        "We have a workaround for now.",
        "Happy to jump on a call if that helps.",
    ),
    "P4": (
        "No rush on this one.",
        "Just want to understand what's going on.",
        "Low priority, thanks in advance!",
    ),
}
SIGNOFFS = (
    "Thanks,\n{first}",
    "Best regards,\n{contact}\n{title}, {customer}",
    "Cheers,\n{first}",
    "Thanks in advance,\n{contact}\n{title} | {customer}\n{phone}",
    "--\n{contact}\n{title}\n{customer} · {email}",
    "Regards,\n{contact}",
    "Kind regards,\n{contact}\n{customer}\nT: {phone}",
)
EVIDENCE_LEADS = (
    "Here's what we get back:",
    "Log excerpt:",
    "From our logs ({host}):",
    "Error below:",
    "Relevant part of the logs:",
    "This is what we see:",
    "",
)
OPENERS = (
    "Hope you're well.",
    "Not sure this is the right place for this, but here goes.",
    "We've been debugging this for a day now and we're stuck.",
    "Long-time customer, first time writing in.",
    "Your docs didn't answer this, so I'm asking here.",
    "Quick question from our engineering team.",
    "Our account manager suggested we open a ticket.",
)
VAGUE_SIGNOFFS = ("", "", "{first}", "- {first}", "Sent from my iPhone", "thx")
FORM_TEMPLATE = """\
Product area: {form_product}
Environment: Live mode
Account ID: {account}
Request ID: {form_req}
Contact: {contact} <{email}>

What happened?
{report}

Error message / logs:
```
{evidence}
```

What have you tried?
{detail}"""
ESCALATION_FRAMES = (
    "Escalating from L1 ({agent}).\n\nCustomer: {customer} ({account}, {plan} plan)\n"
    "Contact: {contact} <{email}>\n\n{summary}\n\n{evidence}\n\n"
    "Customer has been told to expect an update today.",
    "[Internal] {summary}\n\nAccount: {account} ({customer})\n\n{evidence}\n\n{agent}, Support",
    "L2 escalation for {customer} ({account}).\n\nSummary: {summary}\n\nEvidence:\n{evidence}\n\n"
    "Ask: confirm root cause and advise on the customer reply.\n-- {agent}",
)
ESCALATION_TITLE = (
    "[Escalation] {case_title}",
    "{customer}: {case_title}",
    "L2: {case_title}",
    "{case_title}",
)
REFILE_INTROS = (
    "Sending this again because I haven't heard back on my ticket from {refile_day}. The problem "
    "is still there.",
    "Following up: this is still happening and nobody has replied to my previous request.",
    "Re-opening this as a new ticket since the old one seems stuck. Same issue as before.",
    "Second time I'm writing about this. Still broken on our side, please look.",
)
REFILE_TITLES = (
    "Re: {orig_title}",
    "STILL BROKEN: {orig_title}",
    "Follow-up: {orig_title}",
    "{orig_title} (again)",
)
CLOSING_NOTES = (
    "",
    " Customer confirmed, closing.",
    " No reply from the customer for 5 days after the fix was confirmed on our side; closing.",
    " Customer confirmed the fix on a call.",
)
FORM_PRODUCTS = {
    "Payments API": "Payments",
    "Webhooks": "Webhooks & events",
    "Checkout SDK": "Checkout / mobile SDKs",
    "Server SDKs": "API libraries",
    "OAuth & API keys": "API keys & OAuth",
    "SSO/SAML": "Team & security",
    "Dashboard": "Account & dashboard",
    "Billing & Invoicing": "Billing",
    "Payouts": "Payouts",
    "Disputes": "Disputes",
    "Reporting & Data Exports": "Reports",
    "API Gateway": "API (other)",
    "Status/Incidents": "API (other)",
}
GENERIC_ESCALATIONS = (
    """
    Customer writes: "{report_start}" L1 checked the request logs ({req}) and the account
    configuration but found no obvious cause. Please take over.
    """,
    """
    Escalating: {report_start} No matching KB article found that explains it; customer is waiting
    for an answer.
    """,
)
RESOLUTION_DAYS = {"P1": 0.4, "P2": 4.0, "P3": 12.0, "P4": 15.0}  # median days to resolve
RESOLUTION_CAP_DAYS = {"P1": 3.0, "P2": 30.0, "P3": 45.0, "P4": 60.0}
# Share of cases that stall (waiting on the customer or on engineering) and how much longer.
STALL_CHANCE, STALL_FACTOR = 0.35, (3.0, 12.0)
LONG_STALL_CHANCE = 0.03
TECHNICAL_QUEUES = ("payments-api", "integrations", "identity", "reliability")


# --- one case ----------------------------------------------------------------------------------
@dataclass
class Draft:
    """A case being built; ids are assigned once every case is placed in time."""

    topic: Topic
    customer: Customer
    contact: Contact
    created: datetime
    style: str
    priority: str
    title: str
    body: str
    ctx: Ctx
    cause: Cause
    status: str = "open"
    resolved_at: datetime | None = None
    duplicate_of: Draft | None = None
    case_id: str = ""


def _when(rng: random.Random, created: datetime, customer: Customer) -> str:
    offset = {"eu-west": 1, "us-east": -5, "ap-southeast": 9}[customer.region]
    local = (created + timedelta(hours=offset)).hour
    days_back = rng.randrange(1, 4)
    day = (created - timedelta(days=days_back)).strftime("%A")
    if local < 12:
        options = ["this morning", "since early this morning", f"since about {max(local - 2, 6)}am"]
    else:
        options = ["since this morning", "since lunchtime", "for the last few hours"]
    options += ["since yesterday", f"since {day}", "since last night"]
    return options[rng.randrange(len(options))]


def _human_date(moment: datetime, customer: Customer) -> str:
    if customer.country in {"US", "CA"}:
        return f"{moment.strftime('%b')} {moment.day}"
    return f"{moment.day} {moment.strftime('%b')}"


def base_values(
    rng: random.Random, created: datetime, customer: Customer, contact: Contact
) -> dict[str, str]:
    """Placeholder values every topic can use, drawn fresh for each case."""

    def b62(n: int) -> str:
        return "".join(B62[rng.randrange(62)] for _ in range(n))

    cur = customer.currency
    scale = 100 if cur == "krw" else 1
    if cur in ZERO_DECIMAL:
        minor = rng.choice((980, 3200, 4500, 12800, 24000)) * scale
        minor2 = rng.choice((1500, 6800, 9900)) * scale
        payout = rng.randrange(120, 4800) * 1000 * scale
    else:
        minor = rng.choice((1999, 4900, 8950, 12950, 24000, 49900, 124000, 2599, 7500))
        minor2 = rng.choice((1250, 3999, 6000, 18725, 89000))
        payout = rng.randrange(120_000, 9_800_000)
    ip_block = rng.choice(("203.0.113", "198.51.100", "192.0.2"))
    agent = AGENTS[rng.randrange(len(AGENTS))]
    phone = contact.phone
    values = {
        "customer": customer.name,
        "account": customer.account,
        "slug": customer.slug,
        "domain": customer.domain,
        "plan": customer.plan,
        "region": customer.region,
        "pop": rng.choice(POPS[customer.region]),
        "first": contact.first,
        "contact": f"{contact.first} {contact.last}",
        "title": contact.title,
        "email": customer.email(contact),
        "phone": phone,
        "phone_masked": (phone[:3] + " ••• ••• " + phone[-3:]) if phone else "your phone",
        "agent": agent,
        "req": "req_" + b62(14),
        "req2": "req_" + b62(14),
        "req3": "req_" + b62(14),
        "pi": "pi_" + b62(24),
        "pi2": "pi_" + b62(24),
        "ch": "ch_" + b62(24),
        "re": "re_" + b62(24),
        "po": "po_" + b62(24),
        "inv": "in_" + b62(24),
        "sub": "sub_" + b62(24),
        "dp": "dp_" + b62(24),
        "evt": "evt_" + b62(24),
        "evt2": "evt_" + b62(24),
        "we": "we_" + b62(24),
        "cus": "cus_" + b62(14),
        "exp": "exp_" + b62(20),
        "app_id": "ca_" + b62(20),
        "key4": b62(4),
        "bank4": f"{rng.randrange(10000):04d}",
        "sk": "sk_live_" + b62(32),
        "whsec": "whsec_" + b62(32),
        "bearer": jwt_like(rng, customer.account, int(created.timestamp()) - rng.randrange(7200)),
        "uuid": "-".join(b62(n).lower() for n in (8, 4, 4, 4, 12)),
        "prev_month": (created.replace(day=1) - timedelta(days=1)).strftime("%B"),
        "card": TEST_CARDS[rng.randrange(len(TEST_CARDS))],
        "amount": money(minor, cur),
        "amount_minor": str(minor),
        "amount2": money(minor2, cur),
        "amount2_minor": str(minor2),
        "payout_amount": money(payout, cur),
        "cur": cur,
        "currency": cur.upper(),
        "order": str(rng.randrange(10000, 99999)),
        "count": str(rng.choice((12, 18, 23, 37, 41, 64, 85, 120, 230, 460))),
        "when": _when(rng, created, customer),
        "day": (created - timedelta(days=rng.randrange(1, 4))).strftime("%A"),
        "date_prev": _human_date(created - timedelta(days=rng.randrange(3, 13)), customer),
        "time": (created - timedelta(minutes=rng.randrange(8, 50))).strftime("%H:%M UTC"),
        "host": rng.choice(("web", "api", "worker", "app", "checkout"))
        + f"-{rng.randrange(1, 12):02d}.prod.{customer.slug}.internal",
        "ip": f"{ip_block}.{rng.randrange(2, 254)}",
        "ip2": f"{ip_block}.{rng.randrange(2, 254)}",
        "node_sdk": rng.choice(("8.12.0", "8.14.3", "9.2.1", "9.3.4")),
        "py_sdk": rng.choice(("4.8.0", "5.0.1", "5.1.3")),
    }
    return values


def _pick_weighted(rng: random.Random, options: Sequence[str], weights: Sequence[float]) -> str:
    return rng.choices(list(options), weights=list(weights), k=1)[0]


def _eligible(topic: Topic, regions: tuple[str, ...] = ()) -> list[Customer]:
    chosen = [
        c
        for c in CUSTOMERS
        if (not topic.countries or c.country in topic.countries)
        and (not topic.plans or c.plan in topic.plans)
        and (not topic.platforms_only or c.platform)
        and (not regions or c.region in regions)
    ]
    if not chosen:
        raise ValueError(f"no customer fits topic {topic.key}")
    return chosen


def _choose(c: Ctx, specific: Sequence[str], general: Sequence[str], p_specific: float) -> str:
    """Prefer the scenario's own text; fall back to the topic's when there is none."""
    if specific and (not general or c.chance(p_specific)):
        return c.pick_text(specific)
    return c.pick_text(general)


def compose(topic: Topic, draft: Draft) -> None:
    """Write the title and body of a draft in its style."""
    c = draft.ctx
    cause = draft.cause
    c["scenario"] = cause.evidence
    evidence = topic.evidence(c)
    # Vague tickets get vague titles: the customer does not know the cause yet.
    p_specific = 0.0 if draft.style == "vague" else 0.6
    title = c.fill(_choose(c, cause.titles, topic.titles, p_specific))
    report = c.fill(prose(_choose(c, cause.reports, topic.reports, 0.8)))
    details = cause.details + topic.details
    detail = c.fill(prose(_choose(c, cause.details, topic.details, 0.6))) if details else ""
    parts: list[str] = []
    if draft.style == "vague":
        greeting = c.pick(GREETINGS[:6]) if c.chance(0.4) else ""
        if greeting:
            parts.append(greeting)
        parts.append(c.fill(prose(c.pick_text(topic.vague))))
        sign = c.fill(c.pick_text(VAGUE_SIGNOFFS))
        if sign:
            parts.append(sign)
        if c.chance(0.3):
            title = title.lower()
    elif draft.style == "email":
        greeting = c.pick(GREETINGS)
        if greeting:
            parts.append(greeting)
        if c.chance(0.25):
            report = f"{c.pick(OPENERS)} {report}"
        parts.append(report)
        if c.chance(0.75):
            lead = c.fill(c.pick(EVIDENCE_LEADS))
            parts.append(f"{lead}\n\n{evidence}" if lead else evidence)
        if detail and c.chance(0.6):
            parts.append(detail)
        if c.chance(0.55):
            parts.append(c.fill(c.pick_text(URGENCY[draft.priority])))
        parts.append(c.fill(c.pick_text(SIGNOFFS)))
    elif draft.style == "form":
        c["form_product"] = FORM_PRODUCTS[topic.product]
        c["form_req"] = c["req"] if c.chance(0.6) else c.pick(("n/a", "-", "don't have one"))
        c["report"] = report
        c["detail"] = (
            detail
            if detail and c.chance(0.7)
            else c.pick(("Nothing yet.", "Checked the docs, didn't find anything.", "-"))
        )
        parts.append(_fill_around(c, FORM_TEMPLATE, evidence))
    else:
        c["report_start"] = report.split(". ")[0].rstrip(".") + "."
        summary = (
            _choose(c, cause.escalations, topic.escalations, 0.8)
            if (cause.escalations or topic.escalations)
            else c.pick(GENERIC_ESCALATIONS)
        )
        c["summary"] = c.fill(prose(summary))
        parts.append(_fill_around(c, c.pick(ESCALATION_FRAMES), evidence))
        c["case_title"] = title
        title = c.fill(c.pick(ESCALATION_TITLE))
    draft.title = title
    draft.body = "\n\n".join(parts)


def _fill_around(c: Ctx, frame: str, evidence: str) -> str:
    """Fill a frame, then insert the evidence, whose braces must never be read as placeholders."""
    marker = "\x00evidence\x00"
    return c.fill(frame.replace("{evidence}", marker)).replace(marker, evidence)


# --- placing cases in time ---------------------------------------------------------------------
WEEKDAY_WEIGHT = (1.0, 1.05, 1.0, 0.95, 0.9, 0.35, 0.3)
# Local hour of day -> relative ticket volume (business hours, a long evening tail).
HOUR_WEIGHT = (1, 1, 1, 1, 1, 1, 2, 4, 9, 12, 12, 11, 9, 10, 11, 10, 9, 7, 5, 4, 3, 3, 2, 1)
REGION_OFFSET = {"eu-west": 1, "us-east": -5, "ap-southeast": 9}


def _sample_moment(
    rng: random.Random, lo: datetime, hi: datetime, region: str, ramp: bool
) -> datetime:
    days = max(1, (hi.date() - lo.date()).days + 1)
    span = (RANGE_END - RANGE_START).days
    weights = []
    for i in range(days):
        day = lo + timedelta(days=i)
        # Slow growth of the customer base over the period.
        growth = 0.85 + 0.3 * (day - RANGE_START).days / span
        ramp_weight = min(1.0, 0.15 + i / 6) if ramp else 1.0
        weights.append(WEEKDAY_WEIGHT[day.weekday()] * growth * ramp_weight)
    for _ in range(50):
        i = rng.choices(range(days), weights=weights, k=1)[0]
        hour = rng.choices(range(24), weights=HOUR_WEIGHT, k=1)[0]
        local = datetime(lo.year, lo.month, lo.day, tzinfo=UTC) + timedelta(
            days=i, hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60)
        )
        moment = local - timedelta(hours=REGION_OFFSET[region])
        if lo <= moment <= hi:
            return moment
    return lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))


def draft_topic(topic: Topic, rng: random.Random) -> list[Draft]:
    """All cases of one topic, placed in time, written, not yet settled."""
    slots: list[tuple[datetime | None, tuple[str, ...]]] = []
    for start, share, regions in topic.bursts:
        for _ in range(round(topic.count * share)):
            offset = min(240.0, 1 + rng.expovariate(1 / 28))
            slots.append((start + timedelta(minutes=offset, seconds=rng.randrange(60)), regions))
    slots += [(None, ())] * (topic.count - len(slots))
    lo, hi = topic.window or (RANGE_START, RANGE_END)
    drafts: list[Draft] = []
    for when, regions in slots:
        pool = _eligible(topic, regions)
        customer = rng.choices(pool, weights=[c.weight for c in pool], k=1)[0]
        contact = customer.contacts[rng.randrange(len(customer.contacts))]
        created = when or _sample_moment(rng, lo, hi, customer.region, topic.ramp)
        created = created.replace(microsecond=0)
        causes = [
            cause
            for cause in topic.causes
            if (cause.available_from is None or created >= cause.available_from)
            and (cause.available_until is None or created <= cause.available_until)
        ]
        if not causes:
            raise ValueError(f"no scenario of {topic.key} fits a case created at {created}")
        cause = causes[rng.randrange(len(causes))]
        style = _pick_weighted(rng, ("vague", "email", "form", "escalation"), topic.styles)
        priority = topic.priorities[rng.randrange(len(topic.priorities))]
        values = base_values(rng, created, customer, contact)
        ctx = Ctx(rng, created, values)
        for name, options in topic.values.items():
            values[name] = ctx.fill(ctx.pick(options))
        draft = Draft(topic, customer, contact, created, style, priority, "", "", ctx, cause)
        compose(topic, draft)
        # Two customers never send byte-identical tickets; short vague ones can collide.
        for _ in range(10):
            if all(d.body != draft.body for d in drafts):
                break
            compose(topic, draft)
        drafts.append(draft)
    return drafts


# --- lifecycle ---------------------------------------------------------------------------------
def settle(draft: Draft, rng: random.Random) -> None:
    """Decide whether the case was resolved by the end of the range, and when."""
    days = (
        RESOLUTION_DAYS[draft.priority] * draft.topic.resolve_factor * math.exp(rng.gauss(0, 0.9))
    )
    if rng.random() < STALL_CHANCE:
        days *= rng.uniform(*STALL_FACTOR)
    days = min(days, RESOLUTION_CAP_DAYS[draft.priority] * rng.uniform(0.6, 1.0))
    if draft.priority != "P1" and rng.random() < LONG_STALL_CHANCE:
        # A few tickets linger for months (waiting on a product change, nobody chasing).
        days = rng.uniform(60.0, 220.0)
    resolved_at = draft.created + timedelta(days=days)
    not_before = draft.cause.not_before
    if not_before is not None and resolved_at < not_before:
        # The case waited for a fix to ship.
        resolved_at = not_before + timedelta(hours=rng.uniform(2, 60))
    resolved_at = resolved_at.replace(microsecond=0)
    if resolved_at > RANGE_END:
        age = (RANGE_END - draft.created).total_seconds() / 86400
        untriaged = (age < 2.5 and rng.random() < 0.75) or rng.random() < 0.2
        if draft.style != "escalation" and untriaged:
            draft.status = "new"
        else:
            draft.status = "pending" if rng.random() < 0.3 else "open"
        return
    draft.resolved_at = resolved_at
    draft.status = "closed" if resolved_at < RANGE_END - timedelta(days=7) else "resolved"


def add_refiles(drafts: list[Draft], rng: random.Random, pairs: int = 6) -> list[Draft]:
    """Near-duplicates: a customer re-files an unanswered problem a few days later."""
    latest = RANGE_END - timedelta(days=1.5)
    candidates = [
        d
        for d in drafts
        if d.resolved_at is None and d.style != "escalation" and d.created < latest
    ]
    chosen: list[Draft] = []
    for draft in rng.sample(candidates, len(candidates)):
        if len(chosen) == pairs:
            break
        if all(d.topic.key != draft.topic.key for d in chosen):
            chosen.append(draft)
    refiles = []
    for orig in chosen:
        room = (RANGE_END - orig.created).total_seconds() / 86400
        created = orig.created + timedelta(days=rng.uniform(1.2, min(6.0, room - 0.1)))
        created = created.replace(microsecond=0)
        values = dict(orig.ctx.values)
        values["refile_day"] = orig.created.strftime("%A")
        values["orig_title"] = orig.title
        ctx = Ctx(rng, created, values)
        style = "form" if rng.random() < 0.3 else "email"
        refile = Draft(
            orig.topic,
            orig.customer,
            orig.contact,
            created,
            style,
            orig.priority,
            "",
            "",
            ctx,
            orig.cause,
        )
        compose(orig.topic, refile)
        refile.body = ctx.fill(ctx.pick(REFILE_INTROS)) + "\n\n" + refile.body
        if rng.random() < 0.6:
            refile.title = ctx.fill(ctx.pick(REFILE_TITLES))
        refile.status = "new"
        refile.duplicate_of = orig
        if orig.status == "new":
            orig.status = "open"
        refiles.append(refile)
    return refiles


def linked_runbooks(draft: Draft, rng: random.Random) -> list[str]:
    """Runbooks the resolving agent linked; agents occasionally forget."""
    if draft.resolved_at is None or draft.topic.gap:
        return []
    if rng.random() < 0.05:
        return []
    ids = list(dict.fromkeys(draft.topic.runbooks + draft.cause.runbooks))
    if draft.topic.queue in TECHNICAL_QUEUES and rng.random() < 0.12:
        ids.append("general/tracing-a-request")
    return ids


def to_record(draft: Draft, rng: random.Random) -> dict[str, Any]:
    """The case as a JSON object in the shape of `core.domain.Case`."""
    topic, customer = draft.topic, draft.customer
    new = draft.status == "new"
    tags = list(topic.tags)
    if draft.style == "escalation":
        tags.append("escalation")
    if customer.plan == "enterprise":
        tags.append("enterprise")
    metadata: dict[str, Any] = {
        "topic": topic.key,
        "channel": {"vague": "email", "email": "email", "form": "portal"}.get(
            draft.style, "internal"
        ),
        "region": customer.region,
        "plan": customer.plan,
    }
    if not new:
        agent = AGENTS[rng.randrange(len(AGENTS))].split()
        metadata["assignee"] = f"{_ascii(agent[0]).lower()}.{_ascii(agent[-1])[0].lower()}"
    if draft.resolved_at is not None:
        metadata["resolved_at"] = draft.resolved_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if draft.duplicate_of is not None:
        metadata["duplicate_of"] = draft.duplicate_of.case_id
    cause = draft.cause if draft.resolved_at is not None else None
    return {
        "id": draft.case_id,
        "title": draft.title,
        "body": draft.body,
        "created_at": draft.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": draft.status,
        "queue": None if new else topic.queue,
        "priority": None if new else draft.priority,
        "product": topic.product if not new or draft.style == "form" else None,
        "component": None if new else topic.component,
        "customer": customer.name,
        "account": customer.account,
        "tags": [] if new else list(dict.fromkeys(tags)),
        "error_signatures": [],
        "resolution": None
        if cause is None
        else draft.ctx.fill(cause.resolution) + draft.ctx.pick(CLOSING_NOTES),
        "root_cause": None if cause is None else draft.ctx.fill(cause.root_cause),
        "linked_runbooks": linked_runbooks(draft, rng),
        "source": "demo",
        "metadata": metadata,
    }


def build_cases(seed: int = SEED) -> list[dict[str, Any]]:
    """Every demo case, oldest first, as JSON-ready dicts."""
    rng = random.Random(seed)
    drafts = [d for topic in TOPICS for d in draft_topic(topic, rng)]
    drafts.sort(key=lambda d: (d.created, d.topic.key, d.customer.name))
    for draft in drafts:
        settle(draft, rng)
    drafts += add_refiles(drafts, rng)
    drafts.sort(key=lambda d: (d.created, d.topic.key, d.customer.name))
    number = FIRST_CASE_NUMBER
    for draft in drafts:
        # Gaps: other tickets (spam, sales, merged) take numbers too.
        number += rng.randrange(1, 6)
        draft.case_id = f"LL-{number}"
    return [to_record(d, rng) for d in drafts]


def render(records: Sequence[dict[str, Any]]) -> str:
    """JSON Lines text, one case per line."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the demo cases to a JSON Lines file."""
    parser = argparse.ArgumentParser(description="Write the Ledgerline demo cases.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .jsonl path")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    records = build_cases(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(records), encoding="utf-8", newline="\n")
    print(f"wrote {len(records)} cases to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
