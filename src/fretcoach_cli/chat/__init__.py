"""`fretcoach chat`: a LangGraph agent that answers questions about the user's own practice
data through safe, read-only SQL and the same statistics `fretcoach stats` reports.

Nothing here imports LangChain, LangGraph, psycopg or pglast at import time; the CLI (and only
the CLI) renders with rich.
"""
