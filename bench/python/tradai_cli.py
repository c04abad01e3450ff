"""The original design's unified CLI (its section 10.4), cut to what the start-up benchmark compares: a Typer app
whose `status RUN_ID` asks the backend's status route over httpx, as its service clients do. Only for bench/cli."""

import os

import httpx
import typer

app = typer.Typer(name="tradai", help="TradAI Platform CLI", add_completion=False)


@app.command()
def status(run_id: str) -> None:
    """One backtest's status."""
    api = os.environ["TRADAI_API_URL"].rstrip("/")
    with httpx.Client(timeout=5.0) as client:
        response = client.get(f"{api}/backtest/{run_id}/status")
    typer.echo(response.text)
    raise typer.Exit(0 if response.is_success else 2)


@app.command()
def version() -> None:
    """Show version."""
    typer.echo("0.1.0")


if __name__ == "__main__":
    app()
