"""Message buses events travel on between producers and workers (NATS JetStream)."""
