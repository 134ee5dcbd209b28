"""The `govnet` command: one module per verb family, on top of every other package.

Each verb module registers its subcommands (`register(sub)`) and has their `cmd_*` functions: parse the
arguments, call library functions with typed arguments, render the result. Domain packages are imported
inside each verb, so `govnet --help` is fast and works on any machine. Nothing imports `cli`.
"""
