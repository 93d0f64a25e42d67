"""What simulated customers write, in English and Portuguese: complaints and survey comments.

A complaint is a situation sentence (neutral or angry) plus an optional closing; the closing
carries the mood, churn threats included. Angry, never profane.
"""

from __future__ import annotations

from random import Random

# (locale, situation, tone) -> sentences; {minutes}, {item}, {order} are filled in
SITUATIONS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("en", "waiting", "neutral"): (
        "Hi, my order {order} should have been here {minutes} minutes ago. Any update?",
        "Hello, still waiting for order {order}, it is {minutes} minutes past the promised time.",
    ),
    ("en", "waiting", "angry"): (
        "I have been waiting {minutes} minutes longer than you promised and nobody tells me "
        "anything.",
        "Where is my food?? Order {order} is {minutes} minutes late and the tracker hasn't moved.",
    ),
    ("en", "late", "neutral"): (
        "My order {order} arrived {minutes} minutes late and the food was cold.",
        "The delivery came {minutes} minutes after the promised time. Not great.",
    ),
    ("en", "late", "angry"): (
        "{minutes} minutes late and stone cold. This is unacceptable.",
        "Absolutely useless service, order {order} turned up {minutes} minutes late.",
    ),
    ("en", "missing_item", "neutral"): (
        "The {item} was missing from my order {order}.",
        "Hi, my order came without the {item}.",
    ),
    ("en", "missing_item", "angry"): (
        "You forgot the {item} AGAIN. I paid for it.",
        "No {item} in the bag. How hard can it be?",
    ),
    ("en", "wrong_item", "neutral"): (
        "I got the wrong item: I ordered {item} and received something else.",
        "Order {order} had someone else's food instead of my {item}.",
    ),
    ("en", "wrong_item", "angry"): (
        "Wrong {item} again. Does anyone check these orders?",
        "I ordered {item}, I got something I can't even eat. Ridiculous.",
    ),
    ("en", "damaged_item", "neutral"): (
        "The {item} arrived damaged, the container was broken.",
        "My {item} was spilled all over the bag.",
    ),
    ("en", "damaged_item", "angry"): (
        "The {item} arrived crushed and leaking everywhere. Disgraceful.",
        "Everything is soaked, the {item} is ruined. Terrible.",
    ),
    ("en", "cancelled", "neutral"): (
        "My order {order} was cancelled after I waited over an hour. What happened?",
        "You cancelled order {order} after {minutes} minutes. I still have no dinner.",
    ),
    ("en", "cancelled", "angry"): (
        "You cancelled my order after making me wait {minutes} minutes. Unbelievable.",
        "Waited forever and then a cancellation. Thanks for nothing.",
    ),
    ("pt", "waiting", "neutral"): (
        "Olá, a minha encomenda {order} devia ter chegado há {minutes} minutos. Há novidades?",
        "Ainda estou à espera da encomenda {order}, já passaram {minutes} minutos da hora.",
    ),
    ("pt", "waiting", "angry"): (
        "Estou à espera há {minutes} minutos a mais do que prometeram e ninguém diz nada.",
        "Onde está a minha comida?? {minutes} minutos de atraso e o estafeta nem se mexe.",
    ),
    ("pt", "late", "neutral"): (
        "A encomenda {order} chegou com {minutes} minutos de atraso e a comida estava fria.",
        "A entrega chegou {minutes} minutos depois da hora prometida.",
    ),
    ("pt", "late", "angry"): (
        "{minutes} minutos de atraso e tudo frio. Inaceitável.",
        "Serviço péssimo, a encomenda {order} chegou {minutes} minutos atrasada.",
    ),
    ("pt", "missing_item", "neutral"): (
        "Faltava o {item} na minha encomenda {order}.",
        "Olá, a encomenda chegou sem o {item}.",
    ),
    ("pt", "missing_item", "angry"): (
        "Esqueceram-se outra vez do {item}. Eu paguei por ele.",
        "Não veio o {item}. Não é assim tão difícil.",
    ),
    ("pt", "wrong_item", "neutral"): (
        "Recebi o artigo errado: pedi {item} e veio outra coisa.",
        "A encomenda {order} trazia a comida de outra pessoa em vez do meu {item}.",
    ),
    ("pt", "wrong_item", "angry"): (
        "Outra vez o pedido errado. Ninguém confere as encomendas?",
        "Pedi {item} e recebi uma coisa que nem posso comer. Ridículo.",
    ),
    ("pt", "damaged_item", "neutral"): (
        "O {item} chegou danificado, a embalagem estava partida.",
        "O {item} veio entornado no saco.",
    ),
    ("pt", "damaged_item", "angry"): (
        "O {item} chegou esmagado e a pingar. Uma vergonha.",
        "Está tudo encharcado, o {item} ficou estragado. Péssimo.",
    ),
    ("pt", "cancelled", "neutral"): (
        "A minha encomenda {order} foi cancelada depois de uma hora à espera. O que aconteceu?",
        "Cancelaram a encomenda {order} ao fim de {minutes} minutos. Continuo sem jantar.",
    ),
    ("pt", "cancelled", "angry"): (
        "Cancelaram a minha encomenda depois de {minutes} minutos à espera. Inacreditável.",
        "Esperei imenso e depois cancelam. Obrigado por nada.",
    ),
}

CLOSINGS: dict[tuple[str, str], tuple[str, ...]] = {
    ("en", "neutral"): ("", "Thanks.", "Can you look into it please?"),
    ("en", "angry"): ("", "I want my money back.", "Fix this now."),
    ("en", "churn"): (
        "Cancel my account, I'm done with you.",
        "Third time this month. I'm switching to another app.",
        "Please delete my account.",
    ),
    ("pt", "neutral"): ("", "Obrigado.", "Podem verificar, por favor?"),
    ("pt", "angry"): ("", "Quero o meu dinheiro de volta.", "Resolvam isto já."),
    ("pt", "churn"): (
        "Cancelem a minha conta, acabou.",
        "Terceira vez este mês. Vou mudar para outra aplicação.",
        "Apaguem a minha conta, por favor.",
    ),
}

COMMENTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("en", "low"): (
        "Still no real answer.",
        "Too little, too late.",
        "I won't order again.",
    ),
    ("en", "mid"): ("OK, thanks for the voucher.", "Fine, but it shouldn't happen.", "Meh."),
    ("en", "high"): (
        "Thanks for sorting it out so quickly!",
        "Great service recovery.",
        "Appreciated.",
    ),
    ("pt", "low"): ("Continuo sem resposta.", "Pouco e tarde demais.", "Não volto a pedir."),
    ("pt", "mid"): ("Ok, obrigado pelo vale.", "Está bem, mas não devia acontecer.", "Razoável."),
    ("pt", "high"): ("Obrigado por resolverem tão depressa!", "Excelente.", "Agradeço."),
}


def complaint(
    rng: Random, locale: str, situation: str, mood: str, order: str, minutes: int, item: str
) -> str:
    """A message text. `mood` is neutral, angry or churn (churn writes angrily)."""
    tone = "neutral" if mood == "neutral" else "angry"
    sentence = rng.choice(SITUATIONS[(locale, situation, tone)])
    closing = rng.choice(CLOSINGS[(locale, mood)])
    text = sentence.format(order=order, minutes=minutes, item=item)
    return f"{text} {closing}".strip()


def comment(rng: Random, locale: str, score: int, scale: int) -> str:
    share = (score - 1) / (scale - 1)
    band = "low" if share < 0.4 else "mid" if share < 0.75 else "high"
    return rng.choice(COMMENTS[(locale, band)])
