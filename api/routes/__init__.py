"""HTTP routes, one module per resource. `api.app` includes every router listed here, plus the
optional resource modules (voice, jobs, images) when they exist."""
