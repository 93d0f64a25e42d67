"""`bootstrap.channels_from_settings`: SMTP and signed webhooks when configured, the file channel
for whatever is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from makegood.adapters.channels.file import FileChannel
from makegood.adapters.channels.smtp import SmtpChannel
from makegood.adapters.channels.webhook import WebhookChannel
from makegood.bootstrap import bootstrap, channels_from_settings
from makegood.config import Settings
from makegood.testing import FrozenClock


def test_without_settings_every_channel_is_the_file_channel(tmp_path: Path) -> None:
    channels = channels_from_settings(Settings(outbox_file=tmp_path / "out.jsonl"), {})
    assert set(channels) == {"email", "file", "webhook"}
    assert all(isinstance(c, FileChannel) for c in channels.values())
    assert len({id(c) for c in channels.values()}) == 1  # one file, one lock


def test_smtp_when_its_host_is_set() -> None:
    environ = {
        "MAKEGOOD_SMTP_HOST": "mail.example.com",
        "MAKEGOOD_SMTP_PORT": "2525",
        "MAKEGOOD_SMTP_SECURITY": "none",
        "MAKEGOOD_SMTP_FROM": "care@example.com",
    }
    channels = channels_from_settings(Settings(), environ)
    email = channels["email"]
    assert isinstance(email, SmtpChannel)
    assert (email.settings.host, email.settings.effective_port) == ("mail.example.com", 2525)
    assert isinstance(channels["file"], FileChannel)
    assert isinstance(channels["webhook"], FileChannel)


def test_a_bad_smtp_variable_is_an_error() -> None:
    with pytest.raises(ValueError, match="MAKEGOOD_SMTP_PORT is not a number"):
        channels_from_settings(Settings(), {"MAKEGOOD_SMTP_HOST": "h", "MAKEGOOD_SMTP_PORT": "x"})


def test_webhooks_when_url_and_secret_are_set() -> None:
    settings = Settings(webhook_url="https://ops.example.com/hooks", webhook_secret="s3cret")
    webhook = channels_from_settings(settings, {})["webhook"]
    assert isinstance(webhook, WebhookChannel)
    assert (webhook.default_url, webhook.secret) == ("https://ops.example.com/hooks", b"s3cret")
    webhook.close()


@pytest.mark.parametrize(
    "half", [{"webhook_url": "https://ops.example.com/hooks"}, {"webhook_secret": "s3cret"}]
)
def test_half_a_webhook_configuration_is_an_error(half: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="MAKEGOOD_WEBHOOK_URL and MAKEGOOD_WEBHOOK_SECRET"):
        channels_from_settings(Settings(**half), {})


def test_bootstrap_reads_the_smtp_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAKEGOOD_SMTP_HOST", "127.0.0.1")
    app = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'mg.db'}"), clock=FrozenClock())
    try:
        assert isinstance(app.dispatcher.channels["email"], SmtpChannel)
    finally:
        app.store.dispose()
