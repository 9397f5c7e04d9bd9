"""Alembic migrations of the SQL schema (a package so that wheels ship them)."""
