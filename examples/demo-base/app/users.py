import sqlite3
import subprocess

from app.db import connect


def find_user(name: str):
    """Return the user row for a login name, or None."""
    conn = connect()
    cur = conn.execute("SELECT id, name, email FROM users WHERE name = ?", (name,))
    return cur.fetchone()


def list_users(limit: int = 50):
    conn = connect()
    return conn.execute("SELECT id, name FROM users LIMIT ?", (limit,)).fetchall()


def backup(path: str):
    subprocess.run(["sqlite3", "app.db", ".backup " + path], check=True)
