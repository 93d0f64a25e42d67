"""Customer messages written for makegood's calibration of the combined tier (no data set).

Hand-written for this file, in the ways customers write to a delivery business, an airline, a
shop or a hotel: some tidy, some terse, some with a handle or a link, English and Portuguese.
Each is (text, mood, category): the mood and the failure are what a person reads, not what
any lexicon says; `category` is None for a message that names no failure. None of it is taken
from the evaluation data in ../shared/data, and none of it is shipped in the package: it only
chooses the few constants of `adapters/text/embedding.py` (bench/text_calibrate.py).
"""

from __future__ import annotations

Text = tuple[str, str, str | None]

COMPLAINTS: tuple[Text, ...] = (
    # late_delivery
    (
        "@quickbite it's 9pm and the food I ordered at 7 is still not here",
        "negative",
        "late_delivery",
    ),
    ("two hours on the tarmac and still no idea when we take off", "negative", "late_delivery"),
    ("delivery window was 10-12, it's now 3pm. great.", "negative", "late_delivery"),
    ("our train is running 50 min behind and nobody says why", "negative", "late_delivery"),
    ("package was due monday, tracking still says in transit", "negative", "late_delivery"),
    ("flight pushed back again, we will miss our connection", "negative", "late_delivery"),
    ("o motoboy sumiu, pedido com 1h de atraso", "negative", "late_delivery"),
    ("entrega prevista pra ontem e até agora nada", "negative", "late_delivery"),
    # missing_item
    ("the bag came without the fries I paid for", "negative", "missing_item"),
    ("landed in Lisbon, my suitcase stayed in Frankfurt apparently", "negative", "missing_item"),
    ("still no sign of my checked bag after 3 days", "negative", "missing_item"),
    ("box arrived with only 2 of the 3 items", "negative", "missing_item"),
    ("where is my luggage?? baggage claim is empty", "negative", "missing_item"),
    ("minha mala não apareceu na esteira", "negative", "missing_item"),
    ("veio sem o refrigerante de novo", "negative", "missing_item"),
    # damaged_item
    ("the screen was cracked when I opened the box", "negative", "damaged_item"),
    ("my stroller came off the plane with a bent wheel", "negative", "damaged_item"),
    ("half the eggs were smashed in the crate", "negative", "damaged_item"),
    ("suitcase handle snapped off, it went in fine", "negative", "damaged_item"),
    ("a tela veio trincada", "negative", "damaged_item"),
    ("minha mala chegou toda rasgada", "negative", "damaged_item"),
    # wrong_item
    ("ordered a veggie burger, got a chicken one", "negative", "wrong_item"),
    ("you sent a size S, I ordered an XL", "negative", "wrong_item"),
    ("this isn't my order, the name on the bag is someone else's", "negative", "wrong_item"),
    ("pedi sem cebola e veio cheio de cebola, pedido trocado", "negative", "wrong_item"),
    # cancelled_order
    ("my 6am flight just got cancelled, now what", "negative", "cancelled_order"),
    ("restaurant cancelled my order after 40 minutes of waiting", "negative", "cancelled_order"),
    ("you canceled our hotel booking without telling us", "negative", "cancelled_order"),
    ("the class I signed up for was called off an hour before", "negative", "cancelled_order"),
    ("voo cancelado e nenhuma alternativa oferecida", "negative", "cancelled_order"),
    ("cancelaram minha reserva em cima da hora", "negative", "cancelled_order"),
    # rude_agent
    ("the gate agent rolled her eyes and told me to sit down", "negative", "rude_agent"),
    ("your driver swore at me when I asked for the receipt", "negative", "rude_agent"),
    ("flight attendant was snappy with my kids the whole trip", "negative", "rude_agent"),
    ("the front desk guy laughed at me when I asked for help", "negative", "rude_agent"),
    ("a comissária foi super grossa comigo", "negative", "rude_agent"),
    ("o atendente me tratou com deboche", "negative", "rude_agent"),
    # unhelpful_support
    (
        "called your hotline 4 times, every agent says something different and nothing is fixed",
        "negative",
        "unhelpful_support",
    ),
    (
        "45 minutes waiting on the phone just to be told to call back tomorrow",
        "negative",
        "unhelpful_support",
    ),
    ("the chat assistant keeps sending me the same faq link", "negative", "unhelpful_support"),
    ("your staff at the desk had no clue how to sort it out", "negative", "unhelpful_support"),
    ("liguei no sac três vezes e ninguém resolve", "negative", "unhelpful_support"),
    ("o suporte só enrola e não resolve nada", "negative", "unhelpful_support"),
    # billing_error
    ("my card was charged twice for one ticket", "negative", "billing_error"),
    ("why is there a 15 dollar service fee nobody mentioned", "negative", "billing_error"),
    ("you billed me for a subscription I cancelled in May", "negative", "billing_error"),
    ("veio uma cobrança em dobro no meu cartão", "negative", "billing_error"),
    # refund_policy
    ("it's been six weeks and my refund still hasn't come through", "negative", "refund_policy"),
    ("they will only give a voucher, I want my money", "negative", "refund_policy"),
    ("non refundable even though YOU cancelled? seriously", "negative", "refund_policy"),
    ("até hoje não devolveram meu dinheiro", "negative", "refund_policy"),
    # no_response
    ("emailed support on the 3rd, not a single answer since", "negative", "no_response"),
    ("DM'd you twice yesterday, still crickets", "negative", "no_response"),
    ("filled in the complaint form a week ago and heard nothing", "negative", "no_response"),
    ("mandei três emails e ninguém me respondeu", "negative", "no_response"),
    # misinformation
    ("the app said delivered but nothing is at my door", "negative", "misinformation"),
    ("the agent told me the bag fee was included, it wasn't", "negative", "misinformation"),
    ("board showed on time until the moment it said cancelled", "negative", "misinformation"),
    ("o site dizia entrega em 2 dias, mentira", "negative", "misinformation"),
    # app_outage
    ("can't check in online, the page just spins", "negative", "app_outage"),
    ("trying to change my seat and the site throws an error", "negative", "app_outage"),
    ("your booking page logged me out three times mid-payment", "negative", "app_outage"),
    ("tried to rebook on the app and it won't let me pick a date", "negative", "app_outage"),
    ("o app não deixa finalizar a compra", "negative", "app_outage"),
    ("não consigo alterar minha reserva pelo site", "negative", "app_outage"),
    # food_quality
    ("the pasta was cold and tasted like cardboard", "negative", "food_quality"),
    ("found a hair in my salad, disgusting", "negative", "food_quality"),
    ("milk was sour when it arrived", "negative", "food_quality"),
    ("o hambúrguer veio cru por dentro", "negative", "food_quality"),
)

# Unhappy without naming a failure, or naming none the rules know.
DISCONTENT: tuple[Text, ...] = (
    ("honestly the worst experience I've had with any company", "negative", None),
    ("not impressed at all, expected much better", "negative", None),
    ("ugh, every single trip with you is a headache", "negative", None),
    ("seats are tiny and the legroom is a joke", "negative", None),
    ("so tired of this", "negative", None),
    ("que decepção, esperava mais", "negative", None),
)

NEUTRAL: tuple[Text, ...] = (
    ("@skyair what's the baggage allowance on the Boston route?", "neutral", None),
    ("Is the 8:15 to Denver still on schedule?", "neutral", None),
    ("do you have vegan options on the menu", "neutral", None),
    ("how do I add a passenger to my reservation", "neutral", None),
    ("can I bring my guitar as carry on", "neutral", None),
    ("I'll be at the hotel around midnight, is check in open", "neutral", None),
    ("Just booked for next month, see you in June", "neutral", None),
    ("what's the phone number for lost and found", "neutral", None),
    ("sent my booking reference by DM", "neutral", None),
    ("Heading to Chicago tomorrow morning", "neutral", None),
    ("does the shop deliver on public holidays?", "neutral", None),
    ("Watching the game tonight with the family", "neutral", None),
    ("New menu launches on Monday according to the newsletter", "neutral", None),
    ("Which terminal does the Madrid flight leave from?", "neutral", None),
    ("please follow back so I can DM you", "neutral", None),
    ("my order number is 48213", "neutral", None),
    ("Tomorrow is the last day of the sale", "neutral", None),
    ("any news on the new routes for the summer?", "neutral", None),
    ("qual o prazo de entrega para o interior?", "neutral", None),
    ("vocês abrem no feriado?", "neutral", None),
    ("amanhã vou buscar na loja", "neutral", None),
    ("posso levar o cachorro na cabine?", "neutral", None),
)

POSITIVE: tuple[Text, ...] = (
    ("@quickbite food arrived hot and early, you guys rock", "positive", None),
    ("big thanks to the crew on flight 212, lovely trip", "positive", None),
    ("got my refund in two days, impressed", "positive", None),
    ("the agent on the phone fixed everything in 5 min, thank you Sarah!", "positive", None),
    ("Upgraded to first for free, best birthday ever", "positive", None),
    ("Smooth landing, friendly staff, can't complain", "positive", None),
    ("loved the new app, booking took seconds", "positive", None),
    ("the replacement arrived next day, great service", "positive", None),
    ("you always get my order right, thanks", "positive", None),
    ("such a comfy hotel bed, slept like a baby", "positive", None),
    ("awesome pizza as usual", "positive", None),
    ("thanks for the quick reply!", "positive", None),
    ("Finally home, thanks for getting us here safe despite the weather", "positive", None),
    ("love flying with you guys", "positive", None),
    ("chegou rapidinho e bem embalado, amei", "positive", None),
    ("atendimento nota 10, resolveram na hora", "positive", None),
    ("melhor pizza da cidade", "positive", None),
    ("obrigado pela atenção de sempre", "positive", None),
)

TEXTS: tuple[Text, ...] = COMPLAINTS + DISCONTENT + NEUTRAL + POSITIVE
