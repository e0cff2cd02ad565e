"""Built-in metrics providers: one module per business area, on the core's mapped reference tables."""
