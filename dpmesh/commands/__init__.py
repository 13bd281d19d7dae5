"""Commands of the ``dpmesh`` CLI, one module each; ``dpmesh.cli`` registers them."""
