"""The data: one SQLite database, its schema, the models it stores."""
