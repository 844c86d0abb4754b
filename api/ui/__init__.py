"""The web UI: server-rendered pages under /ui behind the API-key roles."""
