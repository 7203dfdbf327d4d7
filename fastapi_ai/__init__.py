"""fastapi_ai: adapter (built in its own issue)."""
