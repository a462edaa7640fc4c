"""The Dataset aggregate: a source of data, its fields, calculated columns and measures."""
