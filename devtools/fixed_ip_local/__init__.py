"""Local tooling for fixed-ip: moto fidelity patches and helpers for tests and the demo."""
