"""The way out: the transactional outbox and the relay that publishes it."""
