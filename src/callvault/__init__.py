"""callvault: a self-hostable platform for company calls."""

__version__ = "0.1.0"
