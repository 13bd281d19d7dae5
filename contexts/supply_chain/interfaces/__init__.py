"""How the supply chain is reached: its REST API (``api``) and its stream processors
(``streams``)."""
