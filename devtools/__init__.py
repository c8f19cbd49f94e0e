"""Development and test tools that never ship: a local AWS (moto's server plus a local Lambda
Invoke endpoint) for `make run-aws-local`, the AWS tests and the benchmarks. No image or zip
copies this package, and no production module may import it (import-linter contract)."""
