"""The PID-1 supervisor, the privilege drop, the exec, and the state files."""
