"""edgewatch.bench."""
