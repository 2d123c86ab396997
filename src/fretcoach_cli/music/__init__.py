"""Music theory: scale parsing, pitch classes, note names and frequencies. Pure, no I/O."""
