"""Supply chain: warehouses, stock, suppliers, purchase orders and shipments.

The operational side of the supply chain manager's story; its domain events feed the
analytical products (inventory levels, supplier performance, stock-out and delay
alerts, delivery timelines).
"""
