"""Property tests: the identities and symmetries backprop must satisfy, whatever the numbers."""
