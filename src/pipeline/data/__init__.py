"""Data: sources (download, mirror, generated), row-level readers, rebuilt test labels, token cache,
batches."""
