"""Adapters shared by every context: database, outbox, messaging, settings, logging, metrics."""
