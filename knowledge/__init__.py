"""Knowledge base: document ingestion (text, Markdown, HTML), chunking, the per-tenant index,
and the service functions the API and CLI call."""
