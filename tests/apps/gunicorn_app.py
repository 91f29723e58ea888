"""A WSGI app for Debian's unmodified gunicorn: answers {"pid": the arbiter's pid, "worker": …}.

gunicorn takes the supervisor's listener through systemd socket activation (LISTEN_FDS,
LISTEN_PID) and sends READY=1 on NOTIFY_SOCKET itself; nothing here knows about Aeterna.
"""
import json, os


def app(environ, start_response):
    # The arbiter is the process the supervisor started (the generation's pid); workers are its children.
    body = json.dumps({"pid": os.getppid(), "worker": os.getpid(), "generation": os.environ.get("AETERNA_GENERATION")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
