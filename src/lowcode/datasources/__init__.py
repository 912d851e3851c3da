"""Datasources: PostgreSQL connection configs of a workspace, their encrypted
passwords, the hosts they may reach, a small pool each and their live catalog."""
