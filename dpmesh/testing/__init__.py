"""Test support shared by every context: environments (broker, databases) and the pytest plugin."""
