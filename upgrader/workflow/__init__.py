"""Workflow templates and the TaskFlow graphs built from them."""
