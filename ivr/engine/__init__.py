"""The call runtime: runs a compiled flow over a Channel, one handler per node kind."""
