"""Data syncs: sync jobs and their runs, followed on the data-sync peer (SeaTunnel contract)."""
