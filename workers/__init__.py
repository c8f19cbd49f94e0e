"""Entrypoints of the job functions: the Lambdas that run long work (voice turns) as jobs."""
