"""FastAPI pieces every context's API is assembled from."""
