"""The kept state bounded by its estimated size: the coldest customers go first, with
everything of theirs (subjects found by the World's index, not by a scan), and the estimate
goes under the budget."""

from __future__ import annotations

from datetime import UTC, datetime

from makegood.domain.model import Case, Customer, Subject
from makegood.domain.world import Snapshot
from makegood.service_layer.resident import BYTES, LOW_WATER, Resident

T = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def kept(customers: int, orders: int = 3) -> Resident:
    """A Resident holding `customers` customers, each with `orders` subjects and a case on the
    first, used in order c0 (coldest) .. c{n-1} (warmest)."""
    resident = Resident(partitions=4, limit=10**6, budget_mib=1e9)
    snapshot = Snapshot()
    for n in range(customers):
        customer_id = f"c{n}"
        snapshot.customers[customer_id] = Customer(customer_id)
        for k in range(orders):
            snapshot.subjects[f"{customer_id}-o{k}"] = Subject(f"{customer_id}-o{k}", customer_id)
        snapshot.cases[f"case-{n}"] = Case(
            f"case-{n}", customer_id, f"{customer_id}-o0", "detected", "minor", "late", T, T
        )
    resident.world.merge(snapshot)
    resident.subjects |= set(snapshot.subjects)
    for n in range(customers):
        resident.touch([f"c{n}"])
    return resident


def test_the_estimate_counts_each_kind_at_its_size() -> None:
    resident = kept(10, orders=3)
    expected = 10 * BYTES["customers"] + 30 * BYTES["subjects"] + 10 * BYTES["cases"]
    assert resident.size() == expected
    resident.world.touch_subject("c1-extra", "c1")
    assert resident.size() == expected + BYTES["subjects"]


def test_over_the_budget_the_coldest_customers_go_with_all_they_hold() -> None:
    resident = kept(100)
    per = resident.size() / 100
    resident.world.touch_subject("c3-late", "c3")  # a subject made by a batch, not loaded
    resident.subjects.add("c3-late")
    resident.budget = 50 * per  # room for half of them
    resident.bound()
    assert resident.size() <= LOW_WATER * resident.budget + per
    left = list(resident.customers)
    assert left == [f"c{n}" for n in range(100 - len(left), 100)]  # the warmest stay
    assert 30 <= len(left) <= 50
    s = resident.world.s
    assert set(s.customers) == set(left)
    assert {x.customer_id for x in s.subjects.values()} == set(left)
    assert {c.customer_id for c in s.cases.values()} == set(left)
    assert "c3-late" not in s.subjects and "c3-late" not in resident.subjects
    assert resident.subjects == set(s.subjects)  # what is not here is loaded again
    assert resident.world.case_for("c0", "c0-o0") is None
    assert resident.world.case_for(left[0], f"{left[0]}-o0") is not None


def test_under_the_budget_nothing_goes() -> None:
    resident = kept(20)
    resident.budget = resident.size() + 1
    resident.bound()
    assert len(resident.customers) == 20


def test_a_budget_smaller_than_one_customer_keeps_nothing() -> None:
    resident = kept(5)
    resident.budget = 1
    resident.bound()
    assert not resident.customers and not resident.world.s.subjects
    assert resident.size() == 0


def test_a_trim_keeps_the_subject_index_whole() -> None:
    resident = kept(4)
    world = resident.world
    world.trim(T)  # subjects no case names are forgotten; the index follows
    assert set(world.s.subjects) == {f"c{n}-o0" for n in range(4)}
    world.touch_subject("c2-new", "c2")
    world.evict(["c2"])
    assert {x.customer_id for x in world.s.subjects.values()} == {"c0", "c1", "c3"}


def test_over_the_budget_closed_subjects_no_case_names_go_first() -> None:
    resident = kept(10)
    world = resident.world
    for n in range(10):
        for k in range(3):
            world.s.subjects[f"c{n}-o{k}"].seen["order.delivered"] = T  # every order closed
    world.touch_subject("c5-open", "c5")  # placed, not delivered: it stays
    resident.subjects.add("c5-open")
    resident.budget = resident.size() - 1
    resident.bound()
    assert len(resident.customers) == 10  # shedding was enough: no customer evicted
    # the subjects cases name stay (a load brings them), the open one too
    assert set(world.s.subjects) == {f"c{n}-o0" for n in range(10)} | {"c5-open"}
    assert resident.subjects == set(world.s.subjects)  # the shed ones are loaded again
    world.evict(["c5"])
    assert "c5-open" not in world.s.subjects
