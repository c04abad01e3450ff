"""A minimal Python Lambda runtime loop: import the handler module, then poll the runtime API for the first
invocation, as the managed Python runtime does (which does more work before its first poll, not less).
"""

import importlib
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
module_name, function_name = os.environ.get("_HANDLER", "handler.handler").rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
with urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next") as response:
    response.read()
