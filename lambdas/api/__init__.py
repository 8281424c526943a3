"""The HTTP API the marketplace website calls (API Gateway + Lambda)."""
