from m3amazon.cli import app

app()
