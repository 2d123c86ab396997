"""Storage: PostgreSQL (embedded or external), migrations over ddl/*.sql, repositories."""
