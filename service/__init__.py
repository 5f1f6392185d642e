"""movierec service."""
