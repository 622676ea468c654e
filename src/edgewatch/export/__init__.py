"""edgewatch.export."""
