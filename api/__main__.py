"""``python -m api`` runs the ``bridge`` command line."""

from api.cli import app

app(prog_name="bridge")
