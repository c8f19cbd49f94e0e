"""The built-in dialogue acts as the policy sees them: their names, their default responses per
language, and which one a message of several acts is answered for.

The acts are detected by their own model in the intent skill (`IntentResult.acts`); a tenant
overrides any response in its settings (`Tenant.act_responses`, per act). The response of
`what_can_you_do` lists the tenant's top topics in place of `{topics}`.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.models import Tenant

GREET = "greet"
THANKS = "thanks"
GOODBYE = "goodbye"
ARE_YOU_A_BOT = "are_you_a_bot"
WHAT_CAN_YOU_DO = "what_can_you_do"
AFFIRM = "affirm"
DENY = "deny"
ABUSE = "abuse"
ACTS = (GREET, THANKS, GOODBYE, ARE_YOU_A_BOT, WHAT_CAN_YOU_DO, AFFIRM, DENY, ABUSE)

# When a message holds several acts ("great, thanks, bye"), the reply answers the first of these.
PRIORITY = (ABUSE, ARE_YOU_A_BOT, WHAT_CAN_YOU_DO, GOODBYE, THANKS, GREET, DENY, AFFIRM)

DEFAULT_LANGUAGE = "en"
DEFAULT_RESPONSES: dict[str, dict[str, str]] = {
    "en": {
        GREET: "Hello! How can I help you today?",
        THANKS: "You're welcome! Is there anything else I can help you with?",
        GOODBYE: "Thanks for chatting with us. Goodbye, and have a great day!",
        ARE_YOU_A_BOT: (
            "I'm a virtual assistant, not a person. I can answer most questions right away, "
            "and you can ask to talk to a person at any time."
        ),
        WHAT_CAN_YOU_DO: (
            "I can answer questions about {topics}, and more. Just ask in your own words, "
            "or ask to talk to a person."
        ),
        AFFIRM: "Great! Is there anything else I can help you with?",
        DENY: "Okay. Is there anything else I can help you with?",
        ABUSE: (
            "I'm sorry this has been frustrating. I'm here to help: tell me what you need, or "
            "ask to talk to a person."
        ),
    },
    "de": {
        GREET: "Hallo! Wie kann ich Ihnen helfen?",
        THANKS: "Gern geschehen! Kann ich sonst noch etwas für Sie tun?",
        GOODBYE: "Danke für Ihre Nachricht. Auf Wiedersehen!",
        ARE_YOU_A_BOT: (
            "Ich bin ein virtueller Assistent, kein Mensch. Sie können jederzeit nach einer "
            "Person fragen."
        ),
        WHAT_CAN_YOU_DO: "Ich beantworte Fragen zu {topics} und mehr. Fragen Sie einfach.",
        AFFIRM: "Prima! Kann ich sonst noch etwas für Sie tun?",
        DENY: "In Ordnung. Kann ich sonst noch etwas für Sie tun?",
        ABUSE: (
            "Es tut mir leid, dass es ärgerlich war. Sagen Sie mir, was Sie brauchen, oder "
            "fragen Sie nach einer Person."
        ),
    },
    "fr": {
        GREET: "Bonjour ! Comment puis-je vous aider ?",
        THANKS: "Avec plaisir ! Puis-je vous aider pour autre chose ?",
        GOODBYE: "Merci de votre message. Au revoir !",
        ARE_YOU_A_BOT: (
            "Je suis un assistant virtuel, pas une personne. Vous pouvez demander à parler à "
            "quelqu'un à tout moment."
        ),
        WHAT_CAN_YOU_DO: "Je réponds aux questions sur {topics}, et plus encore.",
        AFFIRM: "Parfait ! Puis-je vous aider pour autre chose ?",
        DENY: "D'accord. Puis-je vous aider pour autre chose ?",
        ABUSE: (
            "Je suis désolé que ce soit frustrant. Dites-moi ce dont vous avez besoin, ou "
            "demandez à parler à quelqu'un."
        ),
    },
    "es": {
        GREET: "¡Hola! ¿En qué puedo ayudarte?",
        THANKS: "¡De nada! ¿Puedo ayudarte con algo más?",
        GOODBYE: "Gracias por escribirnos. ¡Hasta pronto!",
        ARE_YOU_A_BOT: (
            "Soy un asistente virtual, no una persona. Puedes pedir hablar con alguien en "
            "cualquier momento."
        ),
        WHAT_CAN_YOU_DO: "Respondo preguntas sobre {topics}, y más.",
        AFFIRM: "¡Genial! ¿Puedo ayudarte con algo más?",
        DENY: "De acuerdo. ¿Puedo ayudarte con algo más?",
        ABUSE: (
            "Siento que haya sido frustrante. Dime qué necesitas, o pide hablar con una persona."
        ),
    },
}
MAX_TOPICS_LISTED = 5


def main_act(acts: Sequence[str]) -> str | None:
    """The act a message of several acts is answered for (see `PRIORITY`)."""
    present = set(acts)
    return next((a for a in PRIORITY if a in present), None)


def join_topics(topics: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c` (lowercased after the first letter of a sentence)."""
    items = [t[:1].lower() + t[1:] if t[1:2].islower() else t for t in topics if t]
    if not items:
        return "our products and services"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def act_response(*, tenant: Tenant, act: str, topics: Sequence[str] = ()) -> str:
    """The tenant's response to `act`: its own override, else the default of its language (else
    English). `{topics}` becomes the listed topics."""
    text = tenant.act_responses.get(act)
    if not text:
        language = (tenant.language or DEFAULT_LANGUAGE).split("-")[0].lower()
        table = DEFAULT_RESPONSES.get(language, DEFAULT_RESPONSES[DEFAULT_LANGUAGE])
        text = table.get(act) or DEFAULT_RESPONSES[DEFAULT_LANGUAGE].get(act, "")
    if "{topics}" in text:
        text = text.replace("{topics}", join_topics(list(topics)[:MAX_TOPICS_LISTED]))
    return text
