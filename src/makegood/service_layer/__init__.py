"""Ports, the unit of work and the engine: orchestration over the domain, no technology."""
