"""Federated governance, automated: checks that keep the contexts' published contracts honest."""
