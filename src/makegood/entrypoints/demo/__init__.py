"""The simulated food-delivery business behind ``makegood demo``."""
