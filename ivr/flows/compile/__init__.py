"""The flow compiler: a shared context at the bottom, node compilers over it, a driver on top."""
