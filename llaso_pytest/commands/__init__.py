"""Subcommands of ``llaso`` that live in their own modules (the table ``cli.COMMANDS``).

Each module defines ``HELP`` (one line), ``configure(parser)`` (its arguments) and
``run(args) -> int`` (the exit status), and imports nothing heavy at module level, so
``llaso --help`` stays fast.
"""
