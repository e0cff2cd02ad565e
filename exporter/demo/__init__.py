"""Demo data: a deterministic synthetic platform, bulk-loaded into any layout of the reference schema."""

from exporter.demo.data import DemoData, DemoSize
from exporter.demo.load import DemoDatabaseNotEmpty, create_demo_database, existing_rows

__all__ = ["DemoData", "DemoDatabaseNotEmpty", "DemoSize", "create_demo_database", "existing_rows"]
