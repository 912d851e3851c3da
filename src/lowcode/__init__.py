"""lowcode-backend: pages, real-time collaboration, SQL datasets and data syncs."""

__version__ = "0.1.0"
