"""Huikuan (回款): collection management."""
