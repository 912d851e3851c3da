"""Datasets: one read-only query over a datasource, validated by the SQL
service when saved, previewed in a READ ONLY transaction."""
