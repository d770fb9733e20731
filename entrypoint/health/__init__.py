"""What "healthy" means, the probe command, and every worker's heartbeat."""
