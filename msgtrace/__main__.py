from msgtrace.cli.main import app

app()
