"""A page's parts: its context, panes, lane rows, listings, regions, the renderer and error pages."""
