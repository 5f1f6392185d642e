"""Sub-commands of the `movierec` CLI, one module per group."""
