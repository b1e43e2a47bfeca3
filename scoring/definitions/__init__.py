"""Instrument definitions as data, one module per instrument family."""
