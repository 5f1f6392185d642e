"""vocabulary resource."""
