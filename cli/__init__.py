"""The `casebook` command line."""
