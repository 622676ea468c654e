"""edgewatch.agent."""
