"""The Typer CLI: thin shells that parse, call core, render with rich and map errors."""
