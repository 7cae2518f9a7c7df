"""Labels beyond the target column: human annotations, weak supervision, curation, row identities."""
