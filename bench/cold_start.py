"""Cold-start benchmark: how long a function process needs from exec until its first
`GET /2018-06-01/runtime/invocation/next`, measured against a tiny local runtime API on loopback.

Usage: python cold_start.py RUNS NAME=COMMAND [NAME=COMMAND ...]
Prints one markdown table row per function: median, p10, p90, min, max (ms) and peak RSS at first poll (MiB).
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "WORKFLOW_STATE_TABLE": "tradai-workflow-state",
    "EXECUTOR_MODE": "sqs",
    "BACKTEST_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/tradai-backtest-dev.fifo",
    "BACKTEST_WORKFLOW_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:tradai-backtest-dev",
    "MLFLOW_TRACKING_URI": "http://mlflow.tradai.local:5000",
    "MARKET_DATA_S3_URI": "s3://tradai-market-data-dev/ohlcv",
    "S3_CONFIG_BUCKET": "tradai-configs-123456789012-dev",
    "S3_RESULTS_BUCKET": "tradai-results-123456789012-dev",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:tradai-backtest-notifications-dev",
    "_HANDLER": "handler.handler",
}


class Probe:
    """Remembers when the first poll arrived and the poller's peak resident memory at that moment."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.at = 0.0
        self.pid = 0
        self.peak_rss_kib = 0


PROBE = Probe()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path.endswith("/runtime/invocation/next") and not PROBE.arrived.is_set():
            PROBE.at = time.perf_counter()
            try:
                with open(f"/proc/{PROBE.pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            PROBE.peak_rss_kib = int(line.split()[1])
            except OSError:
                pass
            PROBE.arrived.set()
        # Never answer: the process is killed once its first poll has been seen.
        time.sleep(5)

    def log_message(self, *args) -> None:
        pass


def measure(command: list[str], port: int) -> tuple[float, int]:
    PROBE.arrived.clear()
    env = dict(ENV, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}")
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    PROBE.pid = process.pid
    deadline = time.monotonic() + 30
    while not PROBE.arrived.wait(timeout=0.05):
        if process.poll() is not None:
            raise SystemExit(f"{command[0]}: exited with {process.returncode} before polling the runtime API")
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{command[0]}: no poll of the runtime API within 30 s")
    elapsed_ms = (PROBE.at - start) * 1000
    process.kill()
    process.wait()
    return elapsed_ms, PROBE.peak_rss_kib


def main() -> None:
    runs = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    for spec in sys.argv[2:]:
        name, command = spec.split("=", 1)
        argv = command.split()
        measure(argv, port)  # warm the page cache; not counted
        samples = [measure(argv, port) for _ in range(runs)]
        times = sorted(ms for ms, _ in samples)
        rss = max(kib for _, kib in samples) / 1024
        deciles = statistics.quantiles(times, n=10)
        print(
            f"| {name} | {runs} | {statistics.median(times):.2f} | {deciles[0]:.2f} | {deciles[-1]:.2f} "
            f"| {times[0]:.2f} | {times[-1]:.2f} | {rss:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
