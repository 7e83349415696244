"""Reading the product's YAML files with positions, and the service settings."""
