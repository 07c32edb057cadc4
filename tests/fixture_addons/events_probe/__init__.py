"""Fixture addon for the events tests: handlers and a scheduled job that leave traces."""
