"""Run `reviewbot serve` as a child process on 127.0.0.1 for the server benchmarks."""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


class ServerProcess:
    def __init__(self, model: str, *args: str, threads: int = 2) -> None:
        self.token = secrets.token_urlsafe(24)
        env = dict(os.environ, PYTHONPATH=str(REPO), REVIEWBOT_SERVER_TOKEN=self.token)
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'reviewbot', 'serve', '--model', model, '--host', '127.0.0.1', '--port', '0',
             '--threads', str(threads), '--no-access-log', *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        self.log: list[str] = []
        port: list[int] = []
        started = threading.Event()

        def read() -> None:  # keep draining stderr so the server never blocks on a full pipe
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r'running on http://127\.0\.0\.1:(\d+)', line)
                if m and not port:
                    port.append(int(m.group(1)))
                    started.set()
            started.set()
        threading.Thread(target=read, daemon=True).start()
        started.wait(300)
        if not port:
            self.proc.kill()
            raise SystemExit('server did not start:\n' + ''.join(self.log)[-3000:])
        self.url = f'http://127.0.0.1:{port[0]}'
        self.headers = {'Authorization': f'Bearer {self.token}'}

    def client(self, timeout: float = 300.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout, trust_env=False)

    def metrics(self) -> dict:
        with self.client(30) as c:
            return c.get('/metrics', params={'format': 'json'}).json()

    def model_info(self) -> dict:
        with self.client(30) as c:
            return c.get('/v1/models').json()['data'][0]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
