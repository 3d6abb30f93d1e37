"""Conversion normalizer: raw conversion postbacks in, one typed Conversion out."""
