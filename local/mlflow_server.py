"""Starts a real MLflow tracking server (SQLite store, local artifacts) on loopback.

Usage: python mlflow_server.py PORT STATE_DIR

MLflow runs in its own process group; when STAND_IN_PARENT_PID is set, the whole group is stopped as soon as that
process is gone, so a test run that started it never leaves it (or its uvicorn workers) behind.
"""

import os
import signal
import subprocess
import sys
import threading
import time


def main() -> int:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        sys.exit("usage: mlflow_server.py PORT STATE_DIR")
    port, state = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(state, exist_ok=True)
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    server = subprocess.Popen(
        [
            mlflow, "server",
            "--backend-store-uri", f"sqlite:///{state}/mlflow.db",
            # Artifacts go through MLflow's proxy (mlflow-artifacts:/), as clients without storage access need.
            "--serve-artifacts", "--artifacts-destination", f"{state}/artifacts",
            "--host", "127.0.0.1", "--port", port, "--workers", "1",
        ],
        start_new_session=True,
    )

    def stop(*_args: object) -> None:
        try:
            os.killpg(server.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.environ.get("STAND_IN_PARENT_PID", "")

    def watch() -> None:
        while True:
            if parent.isdigit():
                try:
                    os.kill(int(parent), 0)
                except ProcessLookupError:
                    stop()
            if server.poll() is not None:
                os._exit(server.returncode or 1)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()
    return server.wait()


if __name__ == "__main__":
    sys.exit(main())
