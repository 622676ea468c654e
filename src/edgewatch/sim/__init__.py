"""edgewatch.sim."""
