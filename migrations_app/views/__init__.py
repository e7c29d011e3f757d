"""The dashboard's pages and buttons. Each view parses its input, calls one service (or
builds one page from `migrations_app.fragments`) and renders; `urls.py` imports them."""
