"""Independent evaluation set for the bot's understanding (see eval/README.md). Never train on it."""
