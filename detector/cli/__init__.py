"""The ``cramp`` command: one thin module per subcommand."""
