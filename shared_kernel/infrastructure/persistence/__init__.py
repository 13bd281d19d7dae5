"""Tables every context database has (outbox, inbox) and the SQLAlchemy unit of work."""
