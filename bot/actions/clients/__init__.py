"""Small clients for the services the actions call."""
