"""The demo shop served at ``/demo/``: templates, static assets and a tiny product catalog."""
