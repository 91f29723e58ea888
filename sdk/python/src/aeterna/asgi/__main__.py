"""``python3 -m aeterna.asgi module:app``: the command form of :func:`aeterna.asgi.run`.

The app's module is imported from the working directory. If it has an ``AeternaClient`` at
module level (``client = AeternaClient(...)``), the runner uses it (or the one ``--client``
names); else it makes its own.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import Any, List, Optional

from ..client import AeternaClient
from .runner import run

__all__ = ["main"]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 -m aeterna.asgi",
                                     description="Serve an ASGI app on uvicorn under the Aeterna supervisor.")
    parser.add_argument("app", help="MODULE:ATTRIBUTE of the ASGI app, e.g. main:app")
    parser.add_argument("--client", help="the module's AeternaClient attribute (default: the one it has, if any)")
    parser.add_argument("--listener", help="the inherited listener's name (default: the first)")
    parser.add_argument("--host", default="127.0.0.1", help="standalone: the address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="standalone: the port to bind (default 8000)")
    parser.add_argument("--log-level", default="info", help="uvicorn's log level (default info)")
    parser.add_argument("--drain-timeout", type=float, help="seconds the drain waits for connections")
    args = parser.parse_args(argv)

    module_name, _, attribute = args.app.partition(":")
    if not module_name or not attribute:
        parser.error("the app is MODULE:ATTRIBUTE, e.g. main:app")
    sys.path.insert(0, "")
    module = importlib.import_module(module_name)
    app = _attribute(parser, module, attribute)
    client = _attribute(parser, module, args.client) if args.client else _module_client(module)
    if client is not None and not isinstance(client, AeternaClient):
        parser.error("%s.%s is not an AeternaClient" % (module_name, args.client))
    run(app, client=client, listener=args.listener, fallback=(args.host, args.port),
        drain_timeout=args.drain_timeout, log_level=args.log_level)


def _attribute(parser: argparse.ArgumentParser, module: ModuleType, path: str) -> Any:
    value: Any = module
    for part in path.split("."):
        if not hasattr(value, part):
            parser.error("%s has no attribute %r" % (module.__name__, path))
        value = getattr(value, part)
    return value


def _module_client(module: ModuleType) -> Optional[AeternaClient]:
    for value in vars(module).values():
        if isinstance(value, AeternaClient):
            return value
    return None


if __name__ == "__main__":
    main()
