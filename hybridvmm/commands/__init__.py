"""One module per subcommand; each defines ``register(subparsers)`` (see :mod:`hybridvmm.cli`).

A module without ``register`` is a helper of the commands (``patch_paths``, ``signature``):
what only the command line needs lives here rather than in the layers below it.
"""
