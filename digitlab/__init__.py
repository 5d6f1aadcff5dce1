"""digitlab: read handwritten digits, train your own model, share it on the Hub."""

__version__ = "0.1.0"
