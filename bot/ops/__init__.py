"""Operating rallybot: health, metrics and the small HTTP server that serves them."""
