"""Serve the web visualizer with uvicorn (one worker; httptools and uvloop via uvicorn[standard])."""
from __future__ import annotations

import uvicorn


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app until interrupted. One worker: the URL is the whole state, nothing to share."""
    uvicorn.run(
        "app.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=1,
        http="auto",
        loop="auto",
        log_level="info",
        server_header=False,
    )
