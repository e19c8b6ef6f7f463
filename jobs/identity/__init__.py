"""Identity resolution: the id graph, its connected components, customer keys."""
