"""Handover service: the human casemanager queue behind the municipal intake chatbot."""

__version__ = "0.1.0"
