"""The renderer makegood dispatches with: templates, plus the signed survey link."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path

from makegood.adapters.survey_link import survey_token, survey_url
from makegood.adapters.templates import TemplateRenderer
from makegood.domain.message import OutboxMessage, Rendered


def shipped_templates() -> Path:
    return Path(str(resources.files("makegood.policies").joinpath("templates")))


class SurveyLinkRenderer:
    """Adds ``survey_url`` to a follow-up's context, signed with the installation's secret;
    `site` is the root the link goes to (``/s/<token>`` is added)."""

    def __init__(self, inner: TemplateRenderer, secret: str, site: str) -> None:
        self.inner = inner
        self.secret = secret
        self.site = site

    def render(self, message: OutboxMessage) -> Rendered:
        survey = message.context.get("survey")
        if isinstance(survey, dict) and message.case_id:
            token = survey_token(
                self.secret,
                str(survey["id"]),
                message.case_id,
                datetime.fromisoformat(str(survey["expires_at"])),
            )
            message.context = {**message.context, "survey_url": survey_url(self.site, token)}
        return self.inner.render(message)
