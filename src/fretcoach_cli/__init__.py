"""fretcoach: a terminal-native guitar practice coach."""

__version__ = "0.1.0"
