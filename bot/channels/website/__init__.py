"""The website widget's channel: Rasa's socket.io channel, plus messages that wait while no page is
connected (see channel.py). credentials.yml names it `bot.channels.website.WebsiteInput`.

- channel.py: the Rasa input and output channel (`WebsiteInput`, `WebsiteOutput`)
- pending.py: the waiting messages (SQLite file or a shared database)
"""

from bot.channels.website.channel import WebsiteInput, WebsiteOutput
from bot.channels.website.pending import PendingMessages

__all__ = ["PendingMessages", "WebsiteInput", "WebsiteOutput"]
