"""The bundled Grafana dashboards as Python: `python -m grafana` writes grafana/dashboards/*.json."""
