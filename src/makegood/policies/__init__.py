"""Policies and templates shipped with makegood (data files)."""
