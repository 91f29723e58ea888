"""ASGI apps (FastAPI, Starlette, ...) on uvicorn under the Aeterna supervisor.

::

    import aeterna.asgi
    from fastapi import FastAPI

    app = FastAPI()
    ...
    aeterna.asgi.run(app)            # or: python3 -m aeterna.asgi module:app

The app serves on the inherited listener, says READY once uvicorn is up, stops accepting at FREEZE
and accepts again at COMMIT or RESUME (:mod:`.accepting`); FREEZE waits for its requests in flight,
and a frozen generation forwards the requests that still reach it to the next one
(:mod:`.middleware`, :mod:`.forward`); WebSockets and streamed responses never hold up a freeze,
pause while frozen and end at the drain, a WebSocket with close code 1012 (:mod:`.phase`); SIGTERM
drains as a lame duck (``Connection: close``, then exit). The app's own ``AeternaClient`` works
as before: pass it as ``client=`` (one session per process).
"""
from .accepting import UvicornAccepting
from .middleware import AeternaMiddleware
from .runner import AsgiRunner, run
from .websocket import SERVICE_RESTART

__all__ = ["run", "AsgiRunner", "AeternaMiddleware", "UvicornAccepting", "SERVICE_RESTART"]
