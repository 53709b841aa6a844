"""The WhatsApp Cloud API channel (Meta), one module per job; see docs/whatsapp.md.

- channel.py: the Rasa input and output channel (`WhatsAppInput`, `WhatsAppOutput`)
- webhook.py: reads and checks Meta's webhook requests (signature, payload)
- format.py: builds Cloud API messages (text, reply buttons, lists, templates)
- graph.py: sends them to the Graph API (Meta's error codes decide: retry, hold or refuse)
- delivery.py: the background work: inbox (Rasa turns per citizen, in order) and outbox (sends
  with an idempotency key, each message once)
- store.py: what must survive a restart (inbox, outbox, seen message ids, 24-hour window, held
  messages)

credentials.yml names the channel by this package: `bot.channels.whatsapp.WhatsAppInput`.
"""

from bot.channels.whatsapp.channel import (
    CHANNEL_NAME,
    PERSON_BUTTON,
    UNSUPPORTED_REPLY,
    WhatsAppConfig,
    WhatsAppInput,
    WhatsAppOutput,
)

__all__ = [
    "CHANNEL_NAME",
    "PERSON_BUTTON",
    "UNSUPPORTED_REPLY",
    "WhatsAppConfig",
    "WhatsAppInput",
    "WhatsAppOutput",
]
