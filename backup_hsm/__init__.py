"""Tiered disk/optical/tape HSM backup scheduler (issue 8)."""
