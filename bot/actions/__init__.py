"""Custom actions, one module per concern. rasa_sdk registers every Action subclass in this package."""
