"""Frozen schema steps, one module per backend (``sqlite``, ``postgres``)."""
