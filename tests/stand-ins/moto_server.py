"""Starts moto's server (the local stand-in for AWS) on loopback.

Usage: python moto_server.py PORT

moto's server is threaded and its DynamoDB backend checks a condition and writes the item in separate steps,
so two concurrent conditional writes can both succeed; on AWS exactly one does. Requests to DynamoDB are
therefore served one at a time here (see make_dynamodb_atomic), which is what makes the store's race tests
meaningful.

When STAND_IN_PARENT_PID is set, the server exits as soon as that process is gone, so a test run that started it
never leaves it behind.
"""

import functools
import os
import sys
import threading
import time

from moto.server import main


def make_dynamodb_atomic() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    lock = threading.RLock()

    @functools.wraps(original)
    def call_action(self):  # type: ignore[no-untyped-def]
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action


def exit_with_parent(pid: int) -> None:
    def watch() -> None:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: moto_server.py PORT")
    make_dynamodb_atomic()
    parent = os.environ.get("STAND_IN_PARENT_PID", "")
    if parent.isdigit():
        exit_with_parent(int(parent))
    sys.exit(main(["-H", "127.0.0.1", "-p", sys.argv[1]]))
