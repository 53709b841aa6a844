"""Input and output channels of the bot that Rasa does not ship itself.

`bot.channels.whatsapp.WhatsAppInput` connects the WhatsApp Cloud API (Meta); see docs/whatsapp.md.
Rasa finds a channel by its module path in credentials.yml, so this package must stay importable
from the repository root (make sets PYTHONPATH).
"""
