"""makegood: a service recovery engine.

Detect each service failure as it happens, make good with the customer within hard budgets,
hand hard cases to people, and measure whether recovery works.

The public Python API is listed once, here, and grows with the engine.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
