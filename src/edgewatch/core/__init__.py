"""edgewatch.core."""
