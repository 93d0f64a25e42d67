"""The pure core of makegood: no I/O, no framework, never reads the clock (time is passed in)."""
