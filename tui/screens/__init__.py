"""The TUI's screens, one module each: the containers list and a container's detail."""
