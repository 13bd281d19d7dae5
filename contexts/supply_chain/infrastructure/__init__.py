"""Adapters of the supply chain: persistence (ORM mapping, repositories, readers,
migrations) and the context's settings."""
