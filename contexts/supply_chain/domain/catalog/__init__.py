"""Reference data: warehouses, SKUs and suppliers."""
