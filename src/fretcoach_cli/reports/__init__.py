"""History and reports: date parsing, SQL aggregates, export/import, sync and seeding.

Core package: no UI imports. The CLI (`cli/history.py`, `cli/stats.py`, `cli/export.py`,
`cli/sync.py`) and the chat agent call the same functions here.
"""
