"""Built-in metrics providers, the reference schema and the demo data generator."""
