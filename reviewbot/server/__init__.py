"""In-house model server: one local model shared by a team over HTTP (`reviewbot serve`).

- worker:  the single thread that owns the model and runs queued jobs one at a time
- metrics: counters exposed at /metrics (Prometheus text or JSON)
- app:     the Starlette application (OpenAI-compatible chat/completions, /v1/review, health)
- runner:  binding checks, token loading and the uvicorn server with graceful shutdown

Starlette and uvicorn are the `server` extra. The client side (RemoteModel, model_for) is
reviewbot.engine.remote: reviewers never import this package.
"""
