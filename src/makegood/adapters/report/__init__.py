"""The recovery report: figures (from `makegood.adapters.sql.metrics`) rendered as one
self-contained HTML page with inline SVG charts, or exported as JSON or CSV."""
