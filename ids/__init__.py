"""NIDS/HIDS sensors, login-failure auditing and account policy (issues 6 and 7)."""
