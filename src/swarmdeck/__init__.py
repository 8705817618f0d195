"""swarmdeck: a keyboard-driven terminal operations console for Docker Swarm."""

__version__ = "0.1.0"
