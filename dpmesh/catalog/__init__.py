"""The data product catalog: where products register, and where consumers find them.

Contexts register each data product at start-up (``PUT /api/v1/products/{urn}``) with
its ODPS descriptor, its ODCS contracts and the live address of each output port, and
report live SLIs in heartbeats. Consumers search the catalog, resolve a product's
address ``urn:dpmesh:<context>:<product>`` to its ports, schemas and owners, and follow
the lineage graph between products and the topics they read. See docs/data-products.md.
"""

from dpmesh.catalog.app import CatalogSettings, create_catalog_app

__all__ = ["CatalogSettings", "create_catalog_app"]
