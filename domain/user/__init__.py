"""Users: who edits. The identity issue adds sign-in; for now a user is registered when first
seen."""
