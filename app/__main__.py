"""`python -m app`: serve the web app, or run a model command (see app/cli.py)."""
from .cli import main

raise SystemExit(main())
