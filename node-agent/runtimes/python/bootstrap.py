"""Stratus' Python runtime: the process inside a python function instance.

Started by the agent as `python3 -u <runtimes>/python/bootstrap.py`, cwd = the task root. It
reads its configuration from the environment it is handed (this module alone does), imports the
handler and then serves events from the Runtime API at AWS_LAMBDA_RUNTIME_API until the process
is stopped. Behaves like AWS's awslambdaric; see reference/node-and-python-handlers.md.

Exit codes: 1 when a required variable is missing, init fails (after posting /init/error) or the
Runtime API is unreachable; whatever the handler passes to sys.exit / os._exit.
"""

import os
import sys

_REQUIRED = ("AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT")
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


def _import_runtime():
    """Imports the runtime package and its stdlib dependencies with user code off sys.path.

    PYTHONPATH puts the task root and layers ahead of the standard library, so a function's own
    `json.py` or `logging.py` would otherwise replace the modules the runtime itself runs on. Once
    imported, user code gets the same module objects, as on AWS. Afterwards the runtime's own folder
    leaves sys.path (a function module named `bootstrap` must not find this file) and the task root
    comes first, as awslambdaric puts it.
    """
    user_paths = set()
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) + [os.environ["LAMBDA_TASK_ROOT"]]:
        if entry:
            user_paths.add(os.path.abspath(entry))
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if p and os.path.abspath(p) not in user_paths]
    if _RUNTIME_DIR not in sys.path:
        sys.path.insert(0, _RUNTIME_DIR)
    try:
        from stratus_runtime import errors, handler_loader, invocation, logs, runtime_client
    finally:
        sys.path[:] = [p for p in saved if os.path.abspath(p or ".") != _RUNTIME_DIR]
        sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    return errors, handler_loader, invocation, logs, runtime_client


def _fail(message):
    sys.stderr.write("stratus python runtime: %s\n" % message)
    sys.stderr.flush()
    return 1


def _await_assignment(fd):
    """A pre-started runtime's wait for its one function (see the agent's prestart-pool.ts).

    Says "ready" on `fd`, reads one JSON line carrying the function's whole environment and makes
    it os.environ before the handler module is imported, so the user's code sees exactly what a
    freshly started instance would. Returns False when the agent went away instead.
    """
    import importlib
    import json
    import time

    os.write(fd, b"ready\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    if not data.endswith(b"\n"):
        return False
    env = json.loads(data.decode("utf-8")).get("env", {})
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    # /var/task was listed (empty) while the runtime imported its own modules; its code came later.
    for path, finder in list(sys.path_importer_cache.items()):
        if finder is None:
            del sys.path_importer_cache[path]
    importlib.invalidate_caches()
    return True


def main():
    """Runs the runtime; returns the exit code for the failures it handles itself."""
    standby_fd = os.environ.get("STRATUS_STANDBY_FD")
    if standby_fd is not None:
        # Start-up work first (the reason to pre-start); the function's environment comes after.
        modules = _import_runtime()
        if not _await_assignment(int(standby_fd)):
            return _fail("the agent closed the assignment channel before assigning a function")
    missing = [name for name in _REQUIRED if not os.environ.get(name)]
    if missing:
        return _fail("missing required environment variable(s) %s; start this runtime through the Stratus agent, which sets them" % ", ".join(missing))

    errors, handler_loader, invocation, logs, runtime_client = modules if standby_fd is not None else _import_runtime()
    json_logs = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").strip().upper() == "JSON"
    try:
        # Works without -u as well: each line is flushed as it is written.
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    logs.install(json_logs, os.environ.get("AWS_LAMBDA_LOG_LEVEL"))
    client = runtime_client.RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])

    init_error = None
    try:
        handler = handler_loader.load_handler(os.environ["_HANDLER"])
    except errors.FaultException as e:
        init_error = errors.fault_error(e)
    except Exception as e:
        init_error = errors.exception_error(e)
    if init_error is not None:
        errors.log_error(init_error, json_logs)
        try:
            client.post_init_error(init_error)
        except runtime_client.RuntimeApiUnavailable as e:
            return _fail("init failed (%s) and could not be reported: %s" % (init_error["errorType"], e))
        return 1

    try:
        while True:
            request = client.next_invocation()
            invocation.handle_invocation(client, handler, request, json_logs)
    except runtime_client.RuntimeApiUnavailable as e:
        return _fail(str(e))


if __name__ == "__main__":
    sys.exit(main())
