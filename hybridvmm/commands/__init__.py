"""One module per subcommand; each defines ``register(subparsers)`` (see :mod:`hybridvmm.cli`)."""
