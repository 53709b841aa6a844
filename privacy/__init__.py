"""Personal data in free text: detection, redaction, and PII-free logs (stdlib plus phonenumbers).

Shared by the bot (Rasa server and action server) and the handover service; both put the repository
root on their import path.
"""
