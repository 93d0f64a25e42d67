"""The one place that picks implementations. Nothing happens at import."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from makegood.adapters.channels.file import FileChannel
from makegood.adapters.channels.smtp import SmtpChannel, SmtpSettings
from makegood.adapters.channels.webhook import WebhookChannel
from makegood.adapters.clock import SystemClock
from makegood.adapters.policy_file import load_policy
from makegood.adapters.renderer import SurveyLinkRenderer, shipped_templates
from makegood.adapters.sql.store import SqlStore
from makegood.adapters.survey_link import DEFAULT_SITE
from makegood.adapters.templates import TemplateRenderer
from makegood.adapters.voucher import new_voucher_code
from makegood.config import Settings
from makegood.domain.rules import CompiledPolicy
from makegood.service_layer.dispatch import Dispatcher
from makegood.service_layer.engine import Analyzer, Engine
from makegood.service_layer.ports import Channel, Clock


@dataclass
class App:
    settings: Settings
    store: SqlStore
    policy: CompiledPolicy
    engine: Engine
    dispatcher: Dispatcher
    clock: Clock
    source_secrets: Mapping[str, str] = field(default_factory=dict)  # source name -> secret


def default_analyzer(policy: CompiledPolicy, policy_file: Path | None = None) -> Analyzer | None:
    """The lexicon tier of text analysis, with the policy's `text:` rules if it has any; the
    embedding tier with the trained head when the policy's ``text.head`` file exists."""
    try:
        from makegood.adapters.text.lexicon import LexiconAnalyzer
        from makegood.adapters.text.model_card import installed_head
        from makegood.adapters.text.rules import load_default_rules, merge_with_defaults
        from makegood.domain.text import text_rules_from_mapping
    except ImportError:  # pragma: no cover - the text adapters ship with the base install
        return None
    rules = (
        text_rules_from_mapping(merge_with_defaults(policy.policy.text))
        if policy.policy.text
        else load_default_rules()
    )
    return installed_head(rules, policy.policy.text, policy_file, LexiconAnalyzer(rules))


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    event_time: bool = False,
    channels: Mapping[str, Channel] | None = None,
    new_code: Callable[[], str] = new_voucher_code,
    analyzer: Analyzer | None = None,
    migrate: bool = True,
    environ: Mapping[str, str] | None = None,
    site: str | None = None,
) -> App:
    """`site`: the address this process serves on; survey links go there unless the policy
    names the site (`business.survey_base_url`)."""
    clock = clock or SystemClock()
    store = SqlStore(settings.database_url, settings.database_schema)
    if migrate:
        store.migrate()
    policy = load_policy(settings.policy)
    engine = Engine(
        store,
        policy,
        clock,
        event_time=event_time,
        analyzer=analyzer or default_analyzer(policy, settings.policy),
        new_code=new_code,
        batch_size=settings.batch_size,
    )
    folders = [settings.templates] if settings.templates else []
    renderer = SurveyLinkRenderer(
        TemplateRenderer([*folders, shipped_templates()]),
        settings.secret,
        policy.policy.business.survey_base_url or site or DEFAULT_SITE,
    )
    if channels is None:
        # the composition root is the one place that reads the environment for channels
        channels = channels_from_settings(settings, os.environ)
    if "action" not in channels and "webhook" in channels:
        # `resolve` steps call the business's own systems: over the webhook channel by default
        channels = {**channels, "action": channels["webhook"]}
    dispatcher = Dispatcher(store, renderer, channels, clock)
    secrets = source_secrets(policy, os.environ if environ is None else environ)
    return App(settings, store, policy, engine, dispatcher, clock, secrets)


def source_secrets(policy: CompiledPolicy, environ: Mapping[str, str]) -> dict[str, str]:
    """Each source's secret, from the variable its `auth.secret_env` names (never the policy).
    A source whose variable is unset is left out: its requests are refused."""
    found = {s.name: environ.get(s.spec.auth.secret_env, "") for s in policy.sources}
    return {name: secret for name, secret in found.items() if secret}


def channels_from_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """The channels an installation is configured for; the file channel stands in for any that
    is not. E-mail goes over SMTP when ``MAKEGOOD_SMTP_HOST`` is set in `environ` (the other
    ``MAKEGOOD_SMTP_*`` variables as `SmtpSettings.from_env` reads them); webhooks are signed
    and posted when the settings have both a webhook URL and a secret.

    Raises ValueError for a bad SMTP variable, or for a webhook URL without a secret (or the
    reverse): calls to a business's systems must not quietly land in a file."""
    environ = environ if environ is not None else {}
    out: Path | None = settings.outbox_file
    file_channel = FileChannel(out) if out else FileChannel(stream=None)
    channels: dict[str, Channel] = {
        "file": file_channel,
        "email": file_channel,
        "webhook": file_channel,
    }
    if environ.get("MAKEGOOD_SMTP_HOST", "").strip():
        channels["email"] = SmtpChannel(SmtpSettings.from_env(environ))
    if settings.webhook_url and settings.webhook_secret:
        channels["webhook"] = WebhookChannel(
            settings.webhook_secret, settings.webhook_url, body_format=settings.webhook_format
        )
    elif settings.webhook_url or settings.webhook_secret:
        raise ValueError("set both MAKEGOOD_WEBHOOK_URL and MAKEGOOD_WEBHOOK_SECRET, or neither")
    return channels


def tune_process() -> None:
    """Garbage collection for a process that keeps the engine's state in memory: young objects
    are collected less often (a batch makes and drops hundreds of thousands), and what exists
    at start (modules, the policy) is left out of full collections. Measured: 8-15 % less CPU
    per event (docs/PERFORMANCE.md). The CLI calls it; an embedding application may."""
    gc.set_threshold(50_000, 20, 100)
    gc.freeze()
