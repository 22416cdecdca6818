"""The SQLAlchemy implementation of the database API (the only backend)."""
