"""edgewatch.transports."""
