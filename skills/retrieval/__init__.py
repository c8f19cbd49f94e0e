"""The retrieval skill: semantic search and indexing over a tenant's knowledge base."""
