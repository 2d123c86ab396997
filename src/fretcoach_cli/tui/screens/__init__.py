"""Screens of the practice room besides the live view."""
