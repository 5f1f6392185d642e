"""users resource."""
