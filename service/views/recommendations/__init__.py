"""recommendations resource."""
