"""Input and output channels of the bot that Rasa does not ship itself.

`bot.channels.whatsapp.WhatsAppInput` (the package bot/channels/whatsapp/) connects the WhatsApp
Cloud API (Meta); see docs/whatsapp.md. `bot.channels.website.WebsiteInput` is Rasa's socket.io
channel for the website widget, with messages that wait while no page is connected. The guards in
front of Rasa's own REST and socket.io channels are not a channel: they live in bot/input_guard.py.
Rasa finds a channel by its module path in credentials.yml, so this package must stay importable
from the repository root (make sets PYTHONPATH).
"""
