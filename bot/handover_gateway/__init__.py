"""Everything the bot asks of the handover service goes through one gateway.

`HandoverGateway` is what the action (bot/actions/turn.py) sees: it turns the conversation's
effects into calls and answers with the results of bot/intake/effects.py. Messages for the
casemanager and callback requests take the durable path (outbox.py: on disk first, in order, once);
opening a live case, a status and erasure need an answer now (client.py). Tests inject a fake.
"""

from bot.handover_gateway.gateway import HandoverGateway, NoHandoverService, ServiceGateway, gateway_for

__all__ = ["HandoverGateway", "NoHandoverService", "ServiceGateway", "gateway_for"]
