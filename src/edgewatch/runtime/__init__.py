"""edgewatch.runtime."""
