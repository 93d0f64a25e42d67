"""Who lives in the simulated city: customers (tier, value, locale, home area) and merchants.

Tiers follow a common loyalty pyramid (standard ~80 %, silver ~15 %, gold ~5 %); about a fifth
of the customers write in Portuguese. Addresses use the reserved example.com / example.org
domains only, so nothing the demo sends can reach a real person.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from itertools import accumulate
from random import Random

from makegood.entrypoints.demo.record import Event, between, event, money

TIERS = ("standard", "silver", "gold")
TIER_WEIGHTS = (0.80, 0.15, 0.05)
# lifetime value range in cents per tier
LIFETIME = {"standard": (2_000, 40_000), "silver": (30_000, 150_000), "gold": (120_000, 600_000)}
# better customers order more often...
ACTIVITY = {"standard": 1.0, "silver": 1.6, "gold": 2.4}
# ...and are more likely to come back at all (chance of a repeat purchase in the window)
RETURNING = {"standard": 0.30, "silver": 0.40, "gold": 0.50}
PT_SHARE = 0.20

# fmt: off
FIRST = {
    "en": (
        "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "James", "Isla", "Jack",
        "Mia", "Harry", "Grace", "George", "Chloe", "Leo", "Ruby", "Oscar", "Ella", "Arthur",
        "Amelia", "Henry", "Zoe", "Samuel", "Hannah", "Daniel", "Priya", "Omar", "Mei", "Lucas",
    ),
    "pt": (
        "João", "Maria", "Ana", "Pedro", "Beatriz", "Tiago", "Inês", "Rafael", "Mariana",
        "Gonçalo", "Sofia", "Diogo", "Carolina", "Rodrigo", "Leonor", "Miguel", "Matilde",
        "Francisco", "Lara", "Duarte", "Camila", "Gabriel", "Larissa", "Bruno",
    ),
}
LAST = {
    "en": (
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
        "Wright", "Walker", "Evans", "Thomas", "Roberts", "Green", "Hall", "Wood", "Clarke",
        "Hughes", "Edwards", "Turner", "Khan", "Murphy", "Kelly", "Nguyen", "Chen",
    ),
    "pt": (
        "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
        "Jesus", "Sousa", "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Alves",
        "Almeida", "Ribeiro", "Pinto", "Carvalho", "Teixeira", "Moreira", "Correia", "Mendes",
    ),
}
KITCHENS = (
    "Pizza", "Sushi", "Burgers", "Tasca", "Wok", "Curry House", "Grill", "Poke", "Tacos",
    "Churrasqueira", "Kebab", "Ramen", "Salads", "Bakery", "Pasta Bar", "Marisqueira",
)
PLACES = (
    "Casa", "Golden", "Little", "Urban", "O Cantinho", "Royal", "Green", "Blue Door",
)
# fmt: on


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    email: str
    locale: str
    tier: str
    lifetime_value: int  # cents
    area: str
    activity: float  # relative order frequency
    temper: float  # personal offset on satisfaction: equal treatment is not an equal outcome
    returning: float  # base chance of a repeat purchase in the follow-up window


@dataclass(frozen=True, slots=True)
class Merchant:
    id: str
    name: str
    area: str


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum()).lower()


def area_weights(rng: Random, areas: tuple[str, ...]) -> list[float]:
    """Some neighbourhoods are busier than others."""
    return [rng.uniform(0.6, 1.5) for _ in areas]


def make_customers(
    rng: Random, count: int, areas: tuple[str, ...], weights: list[float]
) -> list[Customer]:
    area_cum = list(accumulate(weights))
    homes = rng.choices(areas, cum_weights=area_cum, k=count)
    tiers = rng.choices(TIERS, weights=TIER_WEIGHTS, k=count)
    customers = []
    for n in range(count):
        locale = "pt" if rng.random() < PT_SHARE else "en"
        first, last = rng.choice(FIRST[locale]), rng.choice(LAST[locale])
        domain = "example.com" if rng.random() < 0.7 else "example.org"
        tier = tiers[n]
        low, high = LIFETIME[tier]
        customers.append(
            Customer(
                id=f"c-{n + 1:05d}",
                name=f"{first} {last}",
                email=f"{_ascii(first)}.{_ascii(last)}{n + 1}@{domain}",
                locale=locale,
                tier=tier,
                lifetime_value=between(rng, low, high),
                area=homes[n],
                activity=ACTIVITY[tier] * rng.lognormvariate(0.0, 0.8),
                temper=rng.gauss(0.0, 0.35),
                returning=RETURNING[tier],
            )
        )
    return customers


def make_merchants(rng: Random, count: int, areas: tuple[str, ...]) -> list[Merchant]:
    merchants = []
    for n in range(count):
        name = f"{rng.choice(PLACES)} {rng.choice(KITCHENS)}"
        # round-robin first, so every area has somewhere to eat
        area = areas[n % len(areas)] if n < len(areas) else rng.choice(areas)
        merchants.append(Merchant(id=f"m-{n + 1:03d}", name=name, area=area))
    return merchants


def customer_event(customer: Customer, start_iso: str) -> Event:
    return event(
        f"{customer.id}:upserted",
        "customer.upserted",
        start_iso,
        customer.id,
        None,
        {
            "name": customer.name,
            "email": customer.email,
            "locale": customer.locale,
            "tier": customer.tier,
            "lifetime_value": money(customer.lifetime_value),
            "channel": "email",
        },
    )
