"""The follow-up: a survey after a resolved case, its answer (a poor one reopens and escalates
the case, a good one closes it), and its expiry (no answer closes the case)."""

from __future__ import annotations

from datetime import datetime

from makegood.domain import model as m
from makegood.domain.event import Event
from makegood.domain.lifecycle import ENGINE, Lifecycle
from makegood.domain.model import Case
from makegood.domain.outreach import Outreach
from makegood.domain.rules import CompiledPolicy
from makegood.domain.world import World


class Surveys:
    def __init__(
        self, policy: CompiledPolicy, world: World, lifecycle: Lifecycle, outreach: Outreach
    ) -> None:
        self.policy = policy
        self.world = world
        self.lifecycle = lifecycle
        self.outreach = outreach

    def send(self, case: Case, now: datetime) -> None:
        """The follow-up timer of a resolved case: the survey goes out, its expiry is armed."""
        follow_up = self.policy.policy.follow_up
        customer = self.world.customer(case.customer_id)
        survey_id = m.stable_id("survey", case.id, str(case.reopened))
        expires = now + self.policy.survey_expires_in
        extra = {
            "survey": {
                "id": survey_id,
                "case_id": case.id,
                "kind": follow_up.survey,
                "expires_at": expires.isoformat(),
            }
        }
        subject = self.world.subject(case.subject_key) if case.subject_key else None
        self.outreach.message(
            case,
            customer,
            None,
            subject,
            follow_up.template,
            f"{case.id}:survey:{case.reopened}",
            now,
            extra=extra,
        )
        self.lifecycle.set_state(case, m.FOLLOWED_UP, now, ENGINE)
        self.world.arm(
            m.Timer(
                f"survey_expiry:{case.id}:{case.reopened}",
                expires,
                "survey_expiry",
                case.customer_id,
                None,
                case.id,
            )
        )

    def expired(self, case: Case, now: datetime) -> None:
        self.lifecycle.set_state(case, m.CLOSED, now, ENGINE, "no answer to the survey")
        case.closed_at = now

    def answered(self, event: Event, now: datetime) -> None:
        """`survey.answered` with a `case_id`: the customer's score decides the case."""
        case = self.world.case(str(event.attributes["case_id"]))
        if case is None or case.customer_id != event.customer_id:
            return
        score = int(event.attributes["score"])
        follow_up = self.policy.policy.follow_up
        case.survey_score = score
        self.lifecycle.log(
            case.id,
            now,
            "survey_answered",
            f"customer:{case.customer_id}",
            {"score": score, "comment": event.attributes.get("comment")},
        )
        if score <= follow_up.reopen_at_or_below:
            case.reopened += 1
            case.closed_at = None
            self.lifecycle.set_state(case, m.REOPENED, now, ENGINE, f"survey score {score}")
            self.lifecycle.escalate(case, now, f"poor survey answer ({score})")
        elif case.state in (m.FOLLOWED_UP, m.RESOLVED):
            case.closed_at = now
            self.lifecycle.set_state(case, m.CLOSED, now, ENGINE, f"survey score {score}")
