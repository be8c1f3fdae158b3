"""locmap: location assessment and context mapping for Contextual Safeguarding."""

__version__ = "0.1.0"
