"""Orders of the shop: lookups, exports and reports."""
import sqlite3
import subprocess


def connect(path: str = "shop.db") -> sqlite3.Connection:
    return sqlite3.connect(path)


def find_order(conn: sqlite3.Connection, order_id: str):
    """Return the order row for an id taken from the request, or None."""
    cur = conn.execute("SELECT id, customer, total FROM orders WHERE id = ?", (order_id,))
    return cur.fetchone()


def export_orders(path: str) -> None:
    """Write every order to `path` as CSV (path comes from the admin form)."""
    with open(path, "w") as out:
        subprocess.run(["sqlite3", "-csv", "shop.db", "SELECT * FROM orders;"], stdout=out, check=True)


def running_totals(amounts: list[float]) -> list[float]:
    """The running sum after each order, for the daily report."""
    totals = []
    total = 0.0
    for i in range(len(amounts)):
        total += amounts[i]
        totals.append(total)
    return totals
