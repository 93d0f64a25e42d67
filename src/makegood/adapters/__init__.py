"""Technology behind the ports: SQL stores, channels, text analysis, policy files."""
