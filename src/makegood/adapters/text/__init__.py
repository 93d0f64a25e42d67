"""Text analysis behind the `TextAnalyzer` port: lexicon tier (default) and embedding tier."""
