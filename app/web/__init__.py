"""The web visualizer: FastAPI + Jinja2 + htmx, rendering what app.model computes."""
