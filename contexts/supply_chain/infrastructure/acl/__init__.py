"""Anti-corruption layers: models of other systems' data, translated into ours."""
