"""Customer notifications, sent from the order workflow."""


async def send_receipt(client, order: dict) -> None:
    await client.post("/receipts", json={"order": order["id"], "email": order["email"]})


async def close_order(client, db, order: dict) -> None:
    db.mark_closed(order["id"])
    await send_receipt(client, order)
