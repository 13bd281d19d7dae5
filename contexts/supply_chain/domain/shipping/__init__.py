"""Delivering to customers: shipments and their route legs."""
