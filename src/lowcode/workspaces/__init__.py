"""Workspaces (tenants) and their members. Everything else belongs to one."""
