"""Small users' files for the adapters' tests and docs/adapters.md: each holds a user's own
pieces of gradient code, correct ones and ones with a planted bug in their backward, and the
adapters made of them at module level, as a user's file would (see verification.adapters)."""
