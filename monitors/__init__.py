"""SNMP poller, host agent, device-CLI collector, TSDB writers (issue 3)."""
