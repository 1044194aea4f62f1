"""`python -m app`: serve the web app, or run a model command (see app/cli.py)."""
import gc

# Start-up builds thousands of objects that live as long as the process (modules, classes, the
# scenarios and their replayed tours) and no garbage cycles: the cyclic collector's passes over
# them found nothing and took 4 ms of `python -m app scenarios` (issue 12). A command's work is
# bounded (file sizes, MAX_STEPS, the explorer's state budget; the search turns the collector
# off anyway); the server turns it back on before it serves (cli.main).
gc.disable()

from app.cli import main  # noqa: E402 - after the collector is off: the imports are start-up too

raise SystemExit(main())
