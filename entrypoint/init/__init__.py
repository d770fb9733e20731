"""The PID-1 supervisor and its health port, the privilege drop, the exec, and the state files."""
