"""prod-entry's own lines, the JSON schema, and what each server is told about logging."""
