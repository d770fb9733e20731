"""Release steps, wait-for, and the deploy check."""
