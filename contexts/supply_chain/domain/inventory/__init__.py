"""Stock per warehouse and SKU, and every movement of it."""
