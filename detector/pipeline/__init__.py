"""The streaming detection pipeline: small processors with ``push(chunk)`` / ``flush()``."""
