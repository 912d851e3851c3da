"""Pages: JSON component documents, ordered by the page_ops log."""
