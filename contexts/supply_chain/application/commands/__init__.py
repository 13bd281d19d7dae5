"""Commands: requests to change the supply chain, one handler each."""
