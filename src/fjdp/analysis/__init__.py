"""Analysis inside a project workspace: researcher definitions and the measures library."""
