"""Loaded by schemathesis (SCHEMATHESIS_HOOKS=fuzz_hooks) in the fuzz stage (test_fuzz.py).

Every connection schemathesis opens comes from $ENCORE_FUZZ_SOURCE (another loopback address,
127.0.0.9 by default): nginx and the app see the fuzzer as a client of its own, so the sign-in
throttle and nginx's rate limit that its random sign-ins trip slow only the fuzzer, never the
tests that run after it or the accounts' owners.
"""

import os

import urllib3.util.connection as connection

SOURCE = os.environ.get("ENCORE_FUZZ_SOURCE", "127.0.0.9")
_create_connection = connection.create_connection


def _from_source(address, *args, **kwargs):
    kwargs["source_address"] = (SOURCE, 0)
    return _create_connection(address, *args, **kwargs)


connection.create_connection = _from_source


# Hypothesis describes a strategy's lambdas by parsing their source file with `ast.parse`, deep in
# the stack of a draw and under the raised recursion limit it runs tests with. CPython 3.11.7 then
# fails with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905), and
# schemathesis reports a "Runtime Error" for the operation whose schema needed the description
# (POST /api/concerts' body). The description is only a name in a message: fall back to the one
# Hypothesis itself gives a lambda whose source it cannot read.
from hypothesis.internal import lambda_sources  # noqa: E402

_lambda_description = lambda_sources._lambda_description


def _described(f):
    try:
        return _lambda_description(f)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _described
