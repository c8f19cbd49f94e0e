"""The intent skill: out-of-scope-aware intent classification per tenant."""
