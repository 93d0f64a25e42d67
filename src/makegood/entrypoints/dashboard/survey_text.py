"""What the survey pages say, in each language makegood ships templates for (en, pt).

The customer's locale comes from their profile; before the link is known to be good (an expired
or forged link), the browser's Accept-Language decides.
"""

from __future__ import annotations

from typing import Any

TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "question": "How did we do at putting things right?",
        "scores": ("Very unhappy", "Unhappy", "Okay", "Happy", "Very happy"),
        "comment_summary": "Add a comment (optional)",
        "comment_label": "Anything you want us to know",
        "ces_legend": "How easy was it to get this sorted? (1 very hard, 7 very easy)",
        "ces_question": "How easy was it to get this sorted?",
        "ces_scores": (
            "Very hard",
            "Hard",
            "Rather hard",
            "Neither",
            "Rather easy",
            "Easy",
            "Very easy",
        ),
        "one_click": "One click sends your answer.",
        "chosen": "You chose {score}. Press it again to send your answer.",
        "thanks": "Thank you!",
        "thanks_good": "We are glad we could put things right.",
        "thanks_poor": "We are sorry we did not get it right. Someone from our team will look "
        "at your case personally.",
        "busy_title": "One moment, please",
        "busy": "We received many answers from your connection. Please try again in a minute.",
        "expired_title": "This link has expired",
        "expired": "Thank you for wanting to tell us how we did. This survey link is no longer "
        "valid, but you can always reply to our message.",
        "unknown": "We could not find what this survey was about.",
        "answered_title": "You have already answered",
        "answered": "Thank you: we have your answer, and it is already with our team.",
    },
    "pt": {
        "question": "Como nos saímos a resolver o problema?",
        "scores": (
            "Muito insatisfeito",
            "Insatisfeito",
            "Razoável",
            "Satisfeito",
            "Muito satisfeito",
        ),
        "comment_summary": "Adicionar um comentário (opcional)",
        "comment_label": "Algo que queira que saibamos",
        "ces_legend": "Foi fácil resolver isto? (1 muito difícil, 7 muito fácil)",
        "ces_question": "Foi fácil resolver isto?",
        "ces_scores": (
            "Muito difícil",
            "Difícil",
            "Algo difícil",
            "Nem fácil nem difícil",
            "Algo fácil",
            "Fácil",
            "Muito fácil",
        ),
        "one_click": "Um clique envia a sua resposta.",
        "chosen": "Escolheu {score}. Carregue de novo para enviar a sua resposta.",
        "thanks": "Obrigado!",
        "thanks_good": "Ficamos contentes por termos resolvido o problema.",
        "thanks_poor": "Lamentamos não ter feito o que devíamos. Alguém da nossa equipa vai "
        "olhar pessoalmente para o seu caso.",
        "busy_title": "Um momento, por favor",
        "busy": "Recebemos muitas respostas da sua ligação. Tente de novo daqui a um minuto.",
        "expired_title": "Este link expirou",
        "expired": "Obrigado por querer dizer-nos como correu. Este link já não é válido, mas "
        "pode sempre responder à nossa mensagem.",
        "unknown": "Não encontrámos o assunto deste inquérito.",
        "answered_title": "Já respondeu",
        "answered": "Obrigado: já temos a sua resposta, e ela já está com a nossa equipa.",
    },
}


def language(locale: str | None) -> str:
    """`pt-BR` → `pt`; a language makegood has no text for → `en`."""
    code = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return code if code in TEXT else "en"


def from_header(accept_language: str) -> str:
    """The first language of an Accept-Language header that the survey speaks."""
    for part in accept_language.split(",")[:10]:
        code = language(part.split(";")[0])
        if code != "en" or part.strip().lower().startswith("en"):
            return code
    return "en"
