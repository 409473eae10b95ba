"""What may leave the machine, and the proof that it may: gate, visibility checks, payload, receipts."""
