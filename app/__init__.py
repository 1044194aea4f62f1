"""zswap race visualizer: the kernel model (app.model) and its web front end (app.web)."""
