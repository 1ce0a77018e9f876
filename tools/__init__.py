"""Developer tooling that ships with the repository but not in the valsuite package (the product never imports it)."""
