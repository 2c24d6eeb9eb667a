"""backprop-oracle's verification: oracles and a correctness gate for gradient code."""
