"""edgewatch.train."""
