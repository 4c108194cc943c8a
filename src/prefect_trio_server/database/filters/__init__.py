"""Wire filters and sorts translated to SQL, one module per resource."""
