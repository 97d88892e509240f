"""Stratus' Python runtime interface client: the code inside a function instance that polls the
Lambda Runtime API, calls the user's handler and reports results, behaving like AWS's awslambdaric.

Modules, from the wire inwards: runtime_client (HTTP to the agent), handler_loader (init),
context (LambdaContext), invocation (one event, start to finish), errors (error bodies and error
log lines), logs (the root logging handler). bootstrap.py, next to this package, wires them.
Stdlib only, Python 3.9+.
"""
