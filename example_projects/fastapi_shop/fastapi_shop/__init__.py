"""The FastAPI example shop: ``uvicorn fastapi_shop.main:app`` (see example_projects/README.md)."""
