"""Message templates: sandboxed Jinja2, one folder per locale, falling back ``pt_BR -> pt -> en``.

Layout, in each of the `directories` (earlier ones win, so a business's folder can override a
few of the shipped templates, `DEFAULT_TEMPLATE_DIR`)::

    <dir>/<locale>/<name>.subject.txt   one line
    <dir>/<locale>/<name>.txt           plain text body
    <dir>/<locale>/<name>.html          HTML body, optional; the only autoescaped part

All three parts of a message come from the first locale in the chain that has ``<name>.txt``.
Undefined names fail (`StrictUndefined`): a context key that may be absent is passed as ``None``
and tested with ``{% if compensation %}``. Webhook and action messages (calls to a business's
systems) need no files: their payload is the context as JSON-able data plus ``action`` (the
template name).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
    select_autoescape,
)
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from makegood.adapters.formatting import format_date, format_money
from makegood.domain.errors import MakegoodError
from makegood.domain.event import jsonable
from makegood.domain.message import ACTION, OutboxMessage, Rendered

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "policies" / "templates"
WEBHOOK = "webhook"
# calls to a business's own systems (`resolve` steps): their payload is the context, no files
PAYLOAD_CHANNELS = frozenset({WEBHOOK, ACTION})
NULLABLE = ("failure", "order", "compensation", "survey_url")

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")


class TemplateError(MakegoodError):
    """A template that is missing, does not parse, or does not render with the given context."""

    def __init__(self, name: str, locale: str, reason: str) -> None:
        self.name = name
        self.locale = locale
        self.reason = reason
        super().__init__(f"template {name!r} ({locale}): {reason}")


@dataclass(frozen=True, slots=True)
class _Parts:
    subject: str
    text: str
    html: str | None


def locale_chain(locale: str, default: str = "en") -> list[str]:
    """``pt-BR`` -> ``["pt_BR", "pt", "en"]``: the locale, its language, then the default."""
    chain: list[str] = []
    if locale and _LOCALE.match(locale):
        pieces = locale.replace("-", "_").split("_")
        pieces = [pieces[0].lower(), *(p.upper() if len(p) == 2 else p for p in pieces[1:])]
        chain = ["_".join(pieces[:i]) for i in range(len(pieces), 0, -1)]
    for fallback in (default, default.split("_")[0]):
        if fallback not in chain:
            chain.append(fallback)
    return chain


class TemplateRenderer:
    """Implements `Renderer`. Compiled templates are cached; templates edited on disk reload."""

    def __init__(self, directories: Sequence[Path | str], default_locale: str = "en") -> None:
        self.directories = [Path(d) for d in directories]
        self.default_locale = default_locale
        self.loader = FileSystemLoader([str(d) for d in self.directories])
        self.env = ImmutableSandboxedEnvironment(
            loader=self.loader,
            undefined=StrictUndefined,
            autoescape=select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = format_money
        self.env.filters["date"] = format_date

    def render(self, message: OutboxMessage) -> Rendered:
        """Raises `TemplateError` (a permanent failure for the dispatcher)."""
        if message.channel in PAYLOAD_CHANNELS:
            payload = {**jsonable(message.context), "action": message.template}
            return Rendered(
                message_id=message.id,
                idempotency_key=message.key,
                channel=message.channel,
                recipient=message.recipient,
                subject=message.template,
                text="",
                payload=payload,
            )
        parts = self._render_parts(message.template, message.locale, message.context)
        return Rendered(
            message_id=message.id,
            idempotency_key=message.key,
            channel=message.channel,
            recipient=message.recipient,
            subject=parts.subject,
            text=parts.text,
            html=parts.html,
        )

    def preview(self, name: str, locale: str, context: Mapping[str, Any]) -> Rendered:
        """Render an e-mail-style message without an outbox row (dashboard, `policy check`)."""
        message = OutboxMessage(
            id="preview",
            key="preview",
            case_id=None,
            customer_id="preview",
            channel="email",
            template=name,
            locale=locale,
            recipient=None,
            context=context,
        )
        return self.render(message)

    def resolve_locale(self, name: str, locale: str) -> str | None:
        """The locale whose ``<name>.txt`` would be used, or None if there is none."""
        for candidate in locale_chain(locale, self.default_locale):
            try:
                self.env.get_template(f"{candidate}/{name}.txt")  # compiled once, then cached
            except TemplateNotFound:
                continue
            except TemplateSyntaxError:
                pass  # it exists; loading it again reports the error with its line
            return candidate
        return None

    def check(
        self,
        names: Sequence[str],
        locales: Sequence[str],
        sample_context: Mapping[str, Any],
        nullable: Sequence[str] = NULLABLE,
    ) -> list[str]:
        """Render every name in every locale with `sample_context`, and again with each
        `nullable` key present in it set to None; return the problems, one line each."""
        problems: list[str] = []
        variants: list[tuple[str, Mapping[str, Any]]] = [("", sample_context)]
        for key in nullable:
            if sample_context.get(key) is not None:
                variants.append((f" with {key}=None", {**sample_context, key: None}))
        for name in names:
            for locale in locales:
                for label, context in variants:
                    try:
                        self._render_parts(name, locale, context)
                    except TemplateError as exc:
                        problem = f"{exc}{label}"
                        if problem not in problems:
                            problems.append(problem)
                        if not label:
                            break  # the variants would repeat the same problem
        return problems

    def unknown_variables(
        self, names: Sequence[str], locales: Sequence[str], known: Collection[str]
    ) -> list[TemplateError]:
        """Names each template reads, in any branch, that are neither in `known` (the context
        keys messages carry) nor Jinja's globals: found without rendering, so a variable behind
        an ``{% if %}`` the sample context does not take is caught too. Macro files imported
        with ``{% from %}`` are not followed; `check` renders through them."""
        allowed = set(known) | set(self.env.globals)
        found: list[TemplateError] = []
        seen: set[tuple[str, str]] = set()
        for name in names:
            for locale in locales:
                used = self.resolve_locale(name, locale) if _NAME.match(name) else None
                if used is None or (name, used) in seen:
                    continue  # `check` reports missing templates and bad names
                seen.add((name, used))
                for part in (f"{name}.subject.txt", f"{name}.txt", f"{name}.html"):
                    path = f"{used}/{part}"
                    for variable in sorted(self._undeclared(path) - allowed):
                        where = f"{path}{self._line_of(path, variable)}"
                        found.append(
                            TemplateError(name, used, f"unknown variable {variable!r} ({where})")
                        )
        return found

    def templates(self) -> dict[str, list[str]]:
        """Every template (``<locale>/<name>.txt``) in the directories: name -> its locales."""
        found: dict[str, set[str]] = {}
        for directory in self.directories:
            for text in directory.glob("*/*.txt"):
                name = text.name.removesuffix(".txt")
                if not name.endswith(".subject") and _NAME.match(name):
                    found.setdefault(name, set()).add(text.parent.name)
        return {name: sorted(found[name]) for name in sorted(found)}

    def _line_of(self, path: str, variable: str) -> str:
        """``, line N``: the first line that names `variable`, or ``""``."""
        source, _, _ = self.loader.get_source(self.env, path)
        word = re.compile(rf"(?<![\w.]){re.escape(variable)}\b")
        line = next((n for n, t in enumerate(source.splitlines(), 1) if word.search(t)), None)
        return f", line {line}" if line else ""

    def _undeclared(self, path: str) -> set[str]:
        try:
            source, _, _ = self.loader.get_source(self.env, path)
        except TemplateNotFound:
            return set()
        try:
            return meta.find_undeclared_variables(self.env.parse(source))
        except TemplateSyntaxError:
            return set()  # rendering reports it with its line

    def _render_parts(self, name: str, locale: str, context: Mapping[str, Any]) -> _Parts:
        if not _NAME.match(name):
            raise TemplateError(name, locale, "not a valid template name")
        found = self.resolve_locale(name, locale)
        if found is None:
            looked = ", ".join(f"{c}/{name}.txt" for c in locale_chain(locale, self.default_locale))
            raise TemplateError(name, locale, f"not found (looked for {looked})")
        subject = self._load(name, found, f"{found}/{name}.subject.txt")
        if subject is None:
            raise TemplateError(name, found, f"{found}/{name}.subject.txt is missing")
        text = self._load(name, found, f"{found}/{name}.txt")
        html = self._load(name, found, f"{found}/{name}.html")
        assert text is not None  # noqa: S101 - resolve_locale found it
        return _Parts(
            subject=" ".join(self._run(subject, name, found, context).split()),
            text=self._run(text, name, found, context).strip() + "\n",
            html=self._run(html, name, found, context) if html is not None else None,
        )

    def _load(self, name: str, locale: str, path: str) -> Template | None:
        try:
            return self.env.get_template(path)
        except TemplateNotFound:
            return None
        except TemplateSyntaxError as exc:
            raise TemplateError(name, locale, f"{exc.message} ({path}, line {exc.lineno})") from exc

    def _run(self, template: Template, name: str, locale: str, context: Mapping[str, Any]) -> str:
        try:
            return template.render(context)
        except JinjaError as exc:
            where = _template_line(exc.__traceback__, self.directories)
            raise TemplateError(name, locale, f"{exc}{where}") from exc
        except Exception as exc:  # a filter or a value's own method failing
            where = _template_line(exc.__traceback__, self.directories)
            raise TemplateError(name, locale, f"{type(exc).__name__}: {exc}{where}") from exc


def _template_line(tb: TracebackType | None, directories: Sequence[Path]) -> str:
    """`` (en/apology.txt, line 4)``: the innermost template frame of Jinja's rewritten
    traceback (a macro's file if the error is in a macro), or ``""``."""
    found = ""
    roots = [str(d.resolve()) for d in directories]
    while tb is not None:
        filename = str(Path(tb.tb_frame.f_code.co_filename).resolve())
        for root in roots:
            if filename.startswith(root + "/"):
                found = f" ({filename[len(root) + 1 :]}, line {tb.tb_lineno})"
        tb = tb.tb_next
    return found
