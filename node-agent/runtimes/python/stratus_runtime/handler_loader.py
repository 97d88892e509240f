"""Resolves the `_HANDLER` string to a function, with awslambdaric's init error types and messages."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

from .errors import FaultException


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Imports `module.function`, `dir/module.function` or `pkg.mod.function` (split at the last dot).

    Raises FaultException for the failures awslambdaric classifies; any other exception from the
    module's top-level code propagates, to be reported under its own class name.
    """
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, e))

    # Messages name the module as written in the handler (with any "/"), as awslambdaric does.
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise FaultException(
            FaultException.BUILT_IN_MODULE_CONFLICT,
            "Cannot use built-in module {} as a handler module".format(module_name),
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise FaultException(FaultException.IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(module_name, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(FaultException.USER_CODE_SYNTAX_ERROR, "Syntax error in module '{}': {}".format(module_name, e), trace)

    try:
        return getattr(module, function_name)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(function_name, module_name),
        )
