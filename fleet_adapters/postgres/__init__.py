"""Postgres adapters: PgUnitOfWork and its repositories (uow.py), the pool (pool.py), migrations (migrate.py)."""
