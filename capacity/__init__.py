"""Flow-level simulator and capacity what-ifs (issue 9)."""
