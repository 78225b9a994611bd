"""fixed-ip operator command line: pool management, status and deployment checks."""
