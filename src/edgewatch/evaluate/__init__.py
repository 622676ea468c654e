"""edgewatch.evaluate."""
