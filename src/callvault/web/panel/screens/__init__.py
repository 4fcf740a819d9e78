"""The admin screens (ustawienia), one module per screen; each has a ``router``.

The registry of screens (menu, scopes) is :mod:`callvault.web.panel.admin`;
how a screen's forms reach the REST API is ``static/admin.js``.
"""
