"""Demo companions: a fake carrier tracking API and the scenario simulator."""
