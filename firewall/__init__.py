"""Firewall policy to nftables and the HA load-balanced pair (issue 5)."""
