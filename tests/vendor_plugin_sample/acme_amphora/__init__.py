"""A sample vendor package for amphora-compute: one hardware family, no code but a hook."""
