"""A chat agent on FastAPI and uvicorn whose memory survives every relay.

Run it under the supervisor (`dotnet aeterna start -c aeterna.yaml`), or alone (`python3 agent.py`,
port 8080). Its state is the context of the Aeterna client (the `aeterna` package, sdk/python):

- per-session conversation history, handed over by pickle through the transfer socket;
- an embedding cache: a (8192, 32) float32 torch tensor in shared memory (`aeterna.SharedTensor`),
  handed over by file descriptor, so the next generation maps the very same pages.

HTTP API (the same as the .NET template's agent, templates/aeterna-agent):
  POST /sessions/{id}/messages  {"text": "..."} -> {"id": ..., "messages": [user turn, agent turn]}
  GET  /sessions/{id}           -> {"id": ..., "messages": [{"role": "user"|"agent", "text": ...}]}, 404 if unknown
  GET  /about                   -> {"generation": n, "pid": p, "version": "..."}
  GET  /stats                   -> {"sessions", "messages", "cache": {"embeddings", "capacity", "dim",
                                    "checksum" (CRC-32C of the tensor), "mismatches" (0 if intact)}}
  GET  /healthz                 -> {"status": "ok"}
Bad input gets a 400 with {"error": ...} and changes nothing.

The reply is local and deterministic: the agent embeds your message (a hashed bag of words), finds
the most similar earlier message of the session through the cache (one torch matrix product),
and tells you about it.

`aeterna.asgi.run(app, client=client)` does the rest: READY once uvicorn is up, no accepting while
frozen, FREEZE waits for the requests in flight, a frozen generation forwards what still reaches it
to the next one, and SIGTERM drains as a lame duck.
"""
import os
import re
import zlib

import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import aeterna
import aeterna.asgi

VERSION = os.environ.get("APP_VERSION", "1.0")
DIM = 32                       # floats per embedding
CAPACITY = 8192                # embeddings the cache holds (1 MiB)
MAX_TEXT = 4000
SESSION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
WORD = re.compile(r"[a-z0-9']+")

client = aeterna.AeternaClient()


def new_state():
    return {"sessions": {}, "slots_used": 0,
            "embeddings": aeterna.SharedTensor((CAPACITY, DIM), "float32", name="embeddings")}


def embed(text):
    """A deterministic, normalized hashed bag-of-words vector."""
    v = torch.zeros(DIM)
    for word in WORD.findall(text.lower()):
        h = zlib.crc32(word.encode())
        v[h % DIM] += 1.0 if (h >> 16) & 1 else -1.0
    norm = torch.linalg.vector_norm(v)
    return v / norm if norm > 0 else v


app = FastAPI(title="fastapi-agent", version=VERSION)
state = None


@app.on_event("startup")
def load_state():
    """Last of the warm-up: READY, then the previous generation's state (or a new one). Loaded
    here, once everything else is ready, it is served the moment it arrives: uvicorn is up as
    soon as this returns. A HandoverError fails the startup (exit 3); the old generation serves on."""
    global state
    state = client.load_context(default=new_state)


def error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def reply_for(history, cache, vector):
    """The closest earlier user message of the session, through the cache."""
    slots = [slot for role, _, slot in history if role == "user" and slot is not None]
    turns = sum(1 for t in history if t[0] == "user") + 1
    if not slots:
        return "Noted. That is the first thing you told me in this session."
    scores = cache[slots] @ vector
    best = int(torch.argmax(scores))
    text = next(t for role, t, slot in history if slot == slots[best])
    return 'Noted (message %d). Closest earlier message: "%s" (similarity %.2f).' % (
        turns, text[:200], float(scores[best]))


# Async handlers: they run on the event loop, one at a time, so the state needs no lock.
@app.post("/sessions/{session_id}/messages")
async def post_message(session_id: str, request: Request):
    if not SESSION_ID.match(session_id):
        return error(400, "a session id is 1 to 64 characters from [A-Za-z0-9_.-]")
    try:
        message = await request.json()
    except ValueError:
        return error(400, "the body is not UTF-8 JSON")
    text = message.get("text") if isinstance(message, dict) else None
    if not isinstance(text, str) or not text.strip():
        return error(400, 'the body must be {"text": "<non-empty string>"}')
    if len(text) > MAX_TEXT:
        return error(400, "text is over %d characters" % MAX_TEXT)
    vector = embed(text)
    cache = state["embeddings"].torch()     # fresh for each request: the pages are shared
    history = state["sessions"].setdefault(session_id, [])
    answer = reply_for(history, cache, vector)
    slot = None
    if state["slots_used"] < CAPACITY:
        slot = state["slots_used"]
        cache[slot] = vector
        state["slots_used"] = slot + 1
    history.append(("user", text, slot))
    history.append(("agent", answer, None))
    return {"id": session_id, "messages": [{"role": "user", "text": text}, {"role": "agent", "text": answer}]}


@app.get("/sessions/{session_id}")
async def get_session(session_id: str):
    if not SESSION_ID.match(session_id):
        return error(400, "a session id is 1 to 64 characters from [A-Za-z0-9_.-]")
    history = state["sessions"].get(session_id)
    if history is None:
        return error(404, "no session '%s'" % session_id)
    return {"id": session_id, "messages": [{"role": r, "text": t} for r, t, _ in history]}


@app.get("/about")
async def about():
    return {"generation": client.generation, "pid": os.getpid(), "version": VERSION}


@app.get("/stats")
async def stats():
    tensor = state["embeddings"]
    cache = tensor.torch()
    mismatches = sum(1 for history in state["sessions"].values() for role, text, slot in history
                     if slot is not None and not torch.equal(cache[slot], embed(text)))
    return {"sessions": len(state["sessions"]),
            "messages": sum(len(h) for h in state["sessions"].values()),
            "cache": {"embeddings": state["slots_used"], "capacity": CAPACITY, "dim": DIM,
                      "checksum": "%08x" % tensor.checksum(), "mismatches": mismatches}}


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


if __name__ == "__main__":
    aeterna.asgi.run(app, client=client, listener="http", fallback=("127.0.0.1", int(os.environ.get("PORT", "8080"))))
