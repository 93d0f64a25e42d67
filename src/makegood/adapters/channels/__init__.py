"""Channels deliver rendered messages: file/console, e-mail (SMTP), signed webhooks."""
