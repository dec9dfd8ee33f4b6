"""uiserver: adaptive-UI configuration server with an accessibility focus."""

__version__ = "0.1.0"
