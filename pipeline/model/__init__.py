"""The model stage: ALS solvers (the numpy block solver on Spark, and Spark ML's as reference).

`equations` is pure numpy (no Spark import): the signal rule and the batched
normal-equation solves, shared by the Spark solver and the service's fold-in.
`checkpoints` gives each run its own checkpoint folder, removed when the run ends.
"""
